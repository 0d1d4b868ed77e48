package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestWatchFromAfterLastLSN: a watch from an LSN past the bus's last LSN
// + 1 is refused with invalid_argument naming both LSNs, as a Read
// as_of_lsn after the last LSN is; it was accepted and reported progress
// from_lsn - 1, which the bus never reached, and a client resuming
// against a bus restored from an older backup waited for ever, told it
// was up to date. From the last LSN + 1 a watch is still accepted, and
// its first progress is the last LSN.
func TestWatchFromAfterLastLSN(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	last := f.bus.LastLSN()
	from := last + 2 // the first refused
	var progress []mmsb.LSN
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: from, Progress: 10 * time.Millisecond}, func(ev client.WatchEvent) error {
		progress = append(progress, ev.ProgressLSN)
		return context.Canceled
	})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "is after the bus's last LSN") || len(progress) != 0 {
		t.Fatalf("watch from LSN %d, last LSN %d: progress %v, then %v; want invalid_argument naming the last LSN, no progress", from, last, progress, err)
	}

	// From the next LSN: accepted, first progress the last LSN.
	progress = nil
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: last + 1, Progress: 10 * time.Millisecond}, func(ev client.WatchEvent) error {
		progress = append(progress, ev.ProgressLSN)
		return context.Canceled
	})
	if len(progress) != 1 || progress[0] != last {
		t.Fatalf("watch from LSN %d: progress %v, then %v; want one progress %d", last+1, progress, err, last)
	}
}

// TestWatchFromAfterLastLSNOnFollower: on a server of a replication
// follower (Config.Follower) a watch from past its last LSN + 1 is
// unavailable, which a client retries (the Go client's Watch resumes on
// it): a client resuming through a load balancer onto a follower behind
// the node it was on waits for it to catch up instead of ending its
// watch with invalid_argument. No progress is sent.
func TestWatchFromAfterLastLSNOnFollower(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), follower: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last := f.bus.LastLSN()
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	st, err := cl.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(last) + 2}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	for st.Receive() {
		t.Fatalf("watch from LSN %d on a follower at LSN %d: got %v; want no message", last+2, last, st.Msg())
	}
	if err := st.Err(); connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "not caught up") {
		t.Fatalf("watch from LSN %d on a follower at LSN %d: %v; want unavailable saying it has not caught up", last+2, last, err)
	}
}
