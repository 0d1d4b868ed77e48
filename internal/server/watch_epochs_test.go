package server_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestWatchEpochs: every delta a watch delivers carries the epoch the bus
// gave it (as Commit returned it), whichever way the watch got it: from
// the hub (a watch open before the commits), catching up from the log (a
// watch from LSN 1 opened afterwards), and across dropped connections and
// resumption (each resume catches up from the log, as a demoted watcher
// does).
// Pages are created during the commits; epochs were already non-zero when
// the first watch opened.
func TestWatchEpochs(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), bus: &mmsb.Options{Sync: mmsb.SyncNone}, queue: 2})
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 8)
	for i := range specs {
		specs[i].Size = 64
	}
	ids, err := f.c.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	want := map[mmsb.LSN]mmsb.Epoch{}
	rng := rand.New(rand.NewPCG(7, 8))
	commit := func(c *client.Client, pages []mmsb.PageID) {
		ds := make([]mmsb.Delta, 1+rng.IntN(6))
		for i := range ds {
			ds[i] = mmsb.Write(pages[rng.IntN(len(pages))], uint32(rng.IntN(60)), []byte{byte(i), 1})
		}
		if _, err := c.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, d := range ds {
			want[d.LSN] = d.Epoch
		}
		mu.Unlock()
	}
	for range 50 { // epochs are well past 0 before any watch opens
		commit(f.c, ids)
	}
	start := f.bus.LastLSN() + 1

	type result struct {
		name    string
		changes []client.Change
		err     error
	}
	var final mmsb.LSN
	var finalMu sync.Mutex
	last := func() mmsb.LSN { finalMu.Lock(); defer finalMu.Unlock(); return final }
	watch := func(name string, from mmsb.LSN, each func(), out chan<- result) {
		var got []client.Change
		done := errors.New("done")
		err := f.c.Watch(ctx, client.WatchOptions{FromLSN: from, Progress: 5 * time.Millisecond}, func(ev client.WatchEvent) error {
			got = append(got, ev.Changes...)
			if each != nil {
				each()
			}
			if l := last(); l != 0 && ev.ProgressLSN >= l {
				return done
			}
			return nil
		})
		if errors.Is(err, done) {
			err = nil
		}
		out <- result{name, got, err}
	}
	results := make(chan result, 3)
	drops := 0
	dropRng := rand.New(rand.NewPCG(9, 10))
	go watch("hub", start, nil, results)
	go watch("dropped", start, func() {
		if drops == 0 || dropRng.IntN(6) == 0 {
			drops++
			f.http.CloseClientConnections()
		}
	}, results)
	waitFor(t, func() bool { return f.srv.Watchers() == 2 })

	// The dropped watch closes every connection (a Commit is never
	// retried): commit to the bus directly, recording the epochs it gives.
	pages := append([]mmsb.PageID(nil), ids...)
	for i := range 400 {
		if i%100 == 50 { // a page created while watches run starts at epoch 0
			id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, id)
		}
		ds := make([]mmsb.Delta, 1+rng.IntN(6))
		for j := range ds {
			ds[j] = mmsb.Write(pages[rng.IntN(len(pages))], uint32(rng.IntN(60)), []byte{byte(j), 2})
		}
		info, err := f.bus.Commit(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, d := range ds {
			want[d.LSN] = d.Epoch
		}
		mu.Unlock()
		finalMu.Lock()
		final = info.LastLSN
		finalMu.Unlock()
	}
	go watch("from LSN 1", 1, nil, results)

	for range 3 {
		r := recv(t, results, "watch's result")
		if r.err != nil {
			t.Fatalf("%s watch: %v", r.name, r.err)
		}
		checked := 0
		for _, c := range r.changes {
			if c.Kind != mmsb.OpDelta {
				continue
			}
			mu.Lock()
			e, ok := want[c.LSN]
			mu.Unlock()
			if !ok {
				t.Fatalf("%s watch: delta at LSN %d was never committed", r.name, c.LSN)
			}
			if c.Delta.Epoch != e {
				t.Fatalf("%s watch: delta at LSN %d (page %d) has epoch %d, the bus gave %d", r.name, c.LSN, c.Page, c.Delta.Epoch, e)
			}
			checked++
		}
		if checked == 0 {
			t.Fatalf("%s watch: no delta checked", r.name)
		}
		t.Logf("%s watch: %d deltas, epochs as the bus gave them", r.name, checked)
	}
	if drops == 0 {
		t.Fatal("no connection was dropped")
	}
}
