package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWatchCommitBetweenCatchUpAndJoin: a commit made after a catching-up
// watch read its last step from the log, and before it joined the hub,
// is delivered, once. The commit is made from inside the watch, right
// after its catch-up step (the hook), so it lands in that window every
// time: the pattern of the CLI watch's hang (cmd/mmsb
// TestSharedWatchSeesCommitAfterFirstLook), on the server's side.
func TestWatchCommitBetweenCatchUpAndJoin(t *testing.T) {
	var bus atomic.Pointer[mmsb.Bus]
	var committed atomic.Uint64 // the LSN the hook committed (0: not yet)
	var page mmsb.PageID
	f := newFixture(t, fixOpts{setup: func(s *server.Server) {
		server.SetWatchCatchUpHook(s, func(pos mmsb.LSN) {
			b := bus.Load()
			if b == nil || committed.Load() != 0 {
				return
			}
			info, err := b.Commit(context.Background(), []mmsb.Delta{mmsb.Write(page, 0, []byte("after the step"))})
			if err != nil {
				t.Error(err)
				committed.Store(uint64(pos)) // ends the watch; the error fails the test
				return
			}
			committed.Store(uint64(info.LastLSN))
		})
	}})
	ctx := context.Background()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	page = ids[0]
	for i := range 5 {
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(page, uint32(i), []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.bus.LastLSN()
	bus.Store(f.bus)
	last := func() mmsb.LSN { return mmsb.LSN(committed.Load()) }
	got := collect(t, f.c, client.WatchOptions{FromLSN: 1, Progress: 10 * time.Millisecond}, last, nil)
	if last() <= before {
		t.Fatalf("precondition: the hook committed nothing after the catch-up step (LSN %d, log up to %d before the watch)", last(), before)
	}
	checkSame(t, got, logLSNs(t, f.bus, 1, last(), func(mmsb.PageID) bool { return true }))
}
