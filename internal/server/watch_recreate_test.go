package server_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestWatchFreedAndRecreated pins what a watch on a page ID sees when the
// page is freed and a page is created again under the same ID: a watch
// selects IDs, not incarnations, so it receives the free, then the
// create, then the new page's deltas with epochs counted from the new
// create (1 for its first delta), and it neither ends nor errors at the
// free. IDs come back only when a caller names one (PageSpec.ID): the
// bus's own IDs are never reused, so a page created with ID 0 after the
// free gets a new one. Both ways a watch delivers are checked: synced to
// the hub while it happens, and catching up from the log afterwards
// (where deltas before the re-create may carry epoch 0, "unknown",
// docs/server.md "Epochs", but never a wrong epoch).
func TestWatchFreedAndRecreated(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixOpts{})
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := ids[0], ids[1]
	first, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, []byte("old"))})
	if err != nil {
		t.Fatal(err)
	}

	var final mmsb.LSN
	set := make(chan struct{})
	last := func() mmsb.LSN {
		select {
		case <-set:
			return final
		default:
			return 0
		}
	}
	liveDone := make(chan []client.Change, 1)
	go func() {
		liveDone <- collect(t, f.c, client.WatchOptions{FromLSN: first.LastLSN + 1, Pages: []mmsb.PageID{a}, Progress: 10 * time.Millisecond}, last, nil)
	}()
	waitFor(t, func() bool { return f.srv.Watchers() == 1 })

	if err := f.c.FreePage(ctx, a); err != nil {
		t.Fatal(err)
	}
	auto, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if auto[0] == a {
		t.Fatalf("a page created with ID 0 got the freed page's ID %d: the bus reused it", a)
	}
	again, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{ID: a, Size: 32}})
	if err != nil || again[0] != a {
		t.Fatalf("creating page %d again: %v %v", a, again, err)
	}
	ds := []mmsb.Delta{mmsb.Write(a, 20, []byte("new"))}
	if _, err := f.c.Commit(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if ds[0].Epoch != 1 {
		t.Fatalf("the re-created page's first delta: epoch %d, want 1", ds[0].Epoch)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(b, 0, []byte("other"))}); err != nil {
		t.Fatal(err)
	}
	final = f.bus.LastLSN()
	close(set)

	check := func(name string, got []client.Change, want []string, firstEpochs map[mmsb.LSN]bool) {
		t.Helper()
		var saw []string
		for _, c := range got {
			s := fmt.Sprintf("%s %d", c.Kind, c.Page)
			if c.Kind == mmsb.OpDelta {
				e := c.Delta.Epoch
				if e == 0 && firstEpochs[c.LSN] {
					e = 1 // unknown is allowed before the re-create only
				}
				s += fmt.Sprintf(" epoch %d", e)
			}
			saw = append(saw, s)
		}
		if !slices.Equal(saw, want) {
			t.Errorf("%s watch on page %d: got %q, want %q", name, a, saw, want)
		}
	}
	after := []string{fmt.Sprintf("free %d", a), fmt.Sprintf("create %d", a), fmt.Sprintf("delta %d epoch 1", a)}
	// collect fails the test from its goroutine (runtime.Goexit) without
	// sending: the guard keeps that from hanging here.
	check("synced", testutil.Recv(t, liveDone, "the synced watch did not deliver its changes"), after, nil)

	// Catching up from the start of the log, after the fact.
	caught := collect(t, f.c, client.WatchOptions{FromLSN: 1, Pages: []mmsb.PageID{a}}, last, nil)
	check("catching-up", caught, append([]string{fmt.Sprintf("create %d", a), fmt.Sprintf("delta %d epoch 1", a)}, after...),
		map[mmsb.LSN]bool{first.FirstLSN: true})
}
