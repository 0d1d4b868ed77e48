package server_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWatchStalledEpochsResume: a watch catching up stalls (its client
// stops reading) while another watch makes the server rebuild its epoch
// base; the stalled watch dropped its base meanwhile
// (TestStalledWatcherReleasesEpochBase) and, once its client reads again,
// rebuilds its position from the log: every change from its start is
// delivered once, in order, each delta with the epoch Commit gave it.
func TestWatchStalledEpochsResume(t *testing.T) {
	const deltaSize = 64 << 10
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	small, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	big, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	want := map[mmsb.LSN]mmsb.Epoch{}
	commit := func(ds []mmsb.Delta) {
		if _, err := f.bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			want[d.LSN] = d.Epoch
		}
	}
	tiny := func(n int) {
		for ; n > 0; n -= 4000 {
			ds := make([]mmsb.Delta, min(n, 4000))
			for k := range ds {
				ds[k] = mmsb.Write(small[k%len(small)], uint32(k%8), []byte{byte(k)})
			}
			commit(ds)
		}
	}
	tiny(100)
	// The watch starts after the pages' creation and first deltas, so
	// that its tracker takes their epochs from the base.
	from := f.bus.LastLSN() + 1
	payload := make([]byte, deltaSize)
	for k := range 256 { // 16 MiB: more than the connection buffers
		payload[0] = byte(k)
		commit([]mmsb.Delta{mmsb.Write(big, 0, payload)})
	}

	stalled, release := make(chan struct{}), make(chan struct{})
	type result struct {
		got []client.Change
		err error
	}
	out := make(chan result, 1)
	var final mmsb.LSN // set before release
	done := errors.New("done")
	go func() {
		var got []client.Change
		first := true
		err := f.c.Watch(ctx, client.WatchOptions{FromLSN: from}, func(ev client.WatchEvent) error {
			got = append(got, ev.Changes...)
			if first && len(ev.Changes) > 0 {
				first = false
				close(stalled)
				<-release
			}
			if final != 0 && ev.ProgressLSN >= final {
				return done
			}
			return nil
		})
		out <- result{got, err}
	}()
	recv(t, stalled, "watch stalling")
	builds := server.EpochBaseBuilds(f.srv)
	// The log moves on by more than two hub steps, and a watch from near
	// its end makes the server build a new base.
	tiny(40000)
	wctx, cancel := context.WithCancel(ctx)
	near := f.bus.LastLSN() - 10
	err = f.c.Watch(wctx, client.WatchOptions{FromLSN: near}, func(ev client.WatchEvent) error {
		if len(ev.Changes) > 0 { // caught up from the log: its epochs built
			return done
		}
		return nil
	})
	cancel()
	if !errors.Is(err, done) {
		t.Fatalf("watch from LSN %d: %v", near, err)
	}
	if b := server.EpochBaseBuilds(f.srv); b <= builds {
		t.Fatalf("the server built its epoch base %d times, still %d after a watch far from it", b, builds)
	}
	final = f.bus.LastLSN()
	close(release)
	r := recv(t, out, "end of the stalled watch")
	if !errors.Is(r.err, done) {
		t.Fatalf("stalled watch: %v", r.err)
	}
	next := from
	for _, c := range r.got {
		if c.LSN < next {
			t.Fatalf("change at LSN %d delivered again (expected LSN %d or later)", c.LSN, next)
		}
		next = c.LSN + 1
		if c.Delta == nil {
			continue
		}
		if w, ok := want[c.LSN]; !ok || c.Delta.Epoch != w {
			t.Fatalf("delta at LSN %d on page %d: epoch %d, Commit gave %d", c.LSN, c.Page, c.Delta.Epoch, w)
		}
	}
	n := 0
	for _, c := range r.got {
		if c.Delta != nil {
			n++
		}
	}
	if exp := int(final - from + 1); n != exp {
		t.Fatalf("%d deltas delivered, %d committed", n, exp)
	}
}
