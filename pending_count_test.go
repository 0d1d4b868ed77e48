package mmsb

import (
	"errors"
	"os"
	"testing"

	"pgregory.net/rapid"
)

// pendingWalk counts what Pending documents by walking the sets, as
// Pending did before it kept a count: the dirty pages, then the bound pages
// listed to compute or to retry that are not dirty, each once.
func (e *Bus) pendingWalk() int {
	e.rlockSettled()
	defer e.mu.RUnlock()
	seen := map[PageID]bool{}
	n := len(e.dirty)
	count := func(id PageID) {
		_, bound := e.bindings[id]
		_, dirty := e.dirtySet[id]
		if bound && !dirty && !seen[id] {
			seen[id] = true
			n++
		}
	}
	for _, id := range e.recompute {
		count(id)
	}
	if e.prop != nil {
		for _, id := range e.prop.retry {
			count(id)
		}
	}
	return n
}

// Pending reads a count: it does not walk the pages bound since the last
// wave (a scrape's Pending held the read lock 19 ms over 200,000 of them,
// and commits waited). The test takes pages off the list to compute behind
// the count's back, as no operation does, and checks that Pending did not
// look at the list; TestPropertyPendingCountEqualsWalk checks that the
// count is right.
func TestPendingDoesNotWalkBoundPages(t *testing.T) {
	e := openMem(t, &Options{Functions: copyFuncs()})
	const n = 200
	ids := mustCreate(t, e, n+1, 8)
	for _, id := range ids[1:] {
		if err := e.Bind(ctx, id, "copy", nil, []PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Pending(); got != n {
		t.Fatalf("Pending after binding %d pages = %d, want %d", n, got, n)
	}
	e.mu.Lock()
	saved, savedSet := e.recompute, e.recomputeSet
	e.recompute, e.recomputeSet = nil, map[PageID]int{}
	e.mu.Unlock()
	got := e.Pending()
	e.mu.Lock()
	e.recompute, e.recomputeSet = saved, savedSet
	e.mu.Unlock()
	if got != n {
		t.Fatalf("Pending = %d with the list to compute emptied behind its count, want %d: it walked the list", got, n)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 0 {
		t.Fatalf("Pending after a wave = %d, want 0", got)
	}
}

// TestPropertyPendingCountEqualsWalk (rapid): the count Pending keeps
// equals a walk of the sets after every step of random sequences of
// creates, writes, edges, binds (over pages already written or bound),
// unbinds, frees, waves with a function failing or not (pages held back and
// retried), resyncs, checkpoints, and reopenings (a checkpoint loaded and
// the log tail replayed: binds, writes and wave ops).
func TestPropertyPendingCountEqualsWalk(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		failing := false
		funcs := map[string]RecomputeFunc{
			"sum": func(in [][]byte, params []byte, out []byte) error {
				for i := range out {
					v := byte(len(params))
					for _, b := range in {
						v += b[i%len(b)]
					}
					out[i] = v
				}
				return nil
			},
			"flaky": func(in [][]byte, params []byte, out []byte) error {
				if failing {
					return errors.New("flaky: failing")
				}
				for i := range out {
					out[i] = in[0][i%len(in[0])] + 1
				}
				return nil
			},
		}
		dir, err := os.MkdirTemp("", "mmsb-pending-")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		opts := &Options{Clock: testClock(), CheckpointBytes: -1, Functions: funcs, Sync: SyncNone}
		e, err := Open(dir, opts)
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { e.Close() }()
		var pages []PageID
		create := func() {
			id, err := e.CreatePage(ctx, PageSpec{Size: 4})
			if err != nil {
				rt.Fatal(err)
			}
			pages = append(pages, id)
		}
		for range rapid.IntRange(2, 6).Draw(rt, "pages") {
			create()
		}
		pick := func(label string) PageID { return pages[rapid.IntRange(0, len(pages)-1).Draw(rt, label)] }
		// ok reports whether err is nil or one of the refusals a step may meet.
		ok := func(err error) bool {
			return err == nil || errors.Is(err, ErrCycle) || errors.Is(err, ErrPageInUse) ||
				errors.Is(err, ErrNotDerived) || errors.Is(err, ErrRecompute)
		}
		check := func(step string) {
			if got, want := e.Pending(), e.pendingWalk(); got != want {
				rt.Fatalf("after %s: Pending = %d, a walk of the sets counts %d", step, got, want)
			}
		}
		for range rapid.IntRange(1, 40).Draw(rt, "steps") {
			var step string
			var err error
			switch rapid.IntRange(0, 11).Draw(rt, "op") {
			case 0, 1:
				step = "a write"
				// Derived pages too: a write makes a page listed to compute
				// dirty, which Pending then counts once.
				_, err = e.Commit(ctx, []Delta{{Page: pick("write"), Runs: []Run{{Data: []byte{rapid.Byte().Draw(rt, "b")}}}}})
			case 2:
				step = "a bind"
				parents := []PageID{pick("parent")}
				if rapid.Bool().Draw(rt, "two parents") {
					parents = append(parents, pick("parent 2"))
				}
				err = e.Bind(ctx, pick("child"), rapid.SampledFrom([]string{"sum", "flaky"}).Draw(rt, "fn"), nil, parents)
			case 3:
				step = "an unbind"
				err = e.Unbind(ctx, pick("unbind"))
			case 4:
				step = "an edge"
				err = e.AddEdge(ctx, pick("from"), pick("to"), EdgeType(rapid.IntRange(0, 1).Draw(rt, "type")))
			case 5:
				step = "an edge removed"
				err = e.RemoveEdges(ctx, pick("from"), pick("to"))
			case 6, 7:
				step = "a wave"
				_, err = e.Propagate(ctx)
			case 8:
				step = "a free"
				id := pick("free")
				if err = e.FreePage(ctx, id); err == nil {
					for i, p := range pages {
						if p == id {
							pages = append(pages[:i], pages[i+1:]...)
							break
						}
					}
					create()
				}
			case 9:
				step = "a resync or a failing function switched"
				if rapid.Bool().Draw(rt, "resync") {
					e.ScheduleResync()
				} else {
					failing = !failing
				}
			case 10:
				step = "a checkpoint"
				_, err = e.Checkpoint(ctx)
			case 11:
				step = "a reopening"
				want := e.pendingWalk()
				if err := e.Close(); err != nil {
					rt.Fatal(err)
				}
				if e, err = Open(dir, opts); err != nil {
					rt.Fatal(err)
				}
				if got := e.Pending(); got != want {
					rt.Fatalf("Pending after reopening = %d, before = %d", got, want)
				}
			}
			if !ok(err) {
				rt.Fatalf("%s: %v", step, err)
			}
			check(step)
		}
	})
}
