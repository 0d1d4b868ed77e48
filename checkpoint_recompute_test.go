package mmsb

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
)

// Bind makes the next wave compute the new page and raises no flag: it
// marked its first parent dirty until 2026-12-06, so that parent counted as
// written and its Control child was flagged stale although nothing wrote
// it. A page bound to a parent already computed into it is computed too.
func TestBindRaisesNoFlag(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 3, 8)
	p, c, k := ids[0], ids[1], ids[2]
	if err := e.AddEdge(ctx, p, k, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(p, 0, "parent")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.ClearFlags(ctx, k, FlagStale); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, c, "passthrough", nil, []PageID{p}); err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 1 {
		t.Fatalf("Pending after Bind = %d, want 1 (the bound page)", got)
	}
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) != 1 || r.Writes[0].Page != c || len(r.Flags) != 0 {
		t.Fatalf("the wave after Bind wrote %+v and raised %+v; want page %d written, no flag", r.Writes, r.Flags, c)
	}
	if f, err := e.Flags(k); err != nil || f != 0 {
		t.Fatalf("flags of the parent's Control child after the wave = %#x, %v; want 0", f, err)
	}
	if got := string(readPage(t, e, c)[:6]); got != "parent" {
		t.Fatalf("bound page holds %q, want its parent's bytes", got)
	}
	if got := e.Pending(); got != 0 {
		t.Fatalf("Pending after the wave = %d, want 0", got)
	}
}

// The pages the next wave must compute whatever their parents do survive a
// restart, without a ScheduleResync: a binding not yet computed, from a
// checkpoint or from the log after it, and a page held back by a failed
// function, from a checkpoint. Before, a restart forgot them (only the
// orchestrator's startup resync computed them), and a checkpoint taken
// after Bind kept its first parent as dirty instead.
func TestRecomputeSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// failFirst: the function fails on the first bus, so the wave
		// holds the page back; checkpoint: one is taken before Close.
		failFirst, checkpoint bool
	}{
		{name: "bound, checkpointed", checkpoint: true},
		{name: "bound, in the log after the checkpoint"},
		{name: "held back by a failed function, checkpointed", failFirst: true, checkpoint: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fail := tc.failFirst
			fns := map[string]RecomputeFunc{"copy": func(in [][]byte, _ []byte, out []byte) error {
				if fail {
					return errors.New("refused on purpose")
				}
				copy(out, in[0])
				return nil
			}}
			e := openT(t, dir, &Options{Functions: fns, CheckpointBytes: -1})
			ids := mustCreate(t, e, 2, 8)
			p, c := ids[0], ids[1]
			if _, err := e.Commit(ctx, []delta.Delta{w(p, 0, "parent")}); err != nil {
				t.Fatal(err)
			}
			if !tc.checkpoint {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Bind(ctx, c, "copy", nil, []PageID{p}); err != nil {
				t.Fatal(err)
			}
			if tc.failFirst {
				if _, err := e.Propagate(ctx); err == nil {
					t.Fatal("the failing function's wave succeeded")
				}
			}
			if tc.checkpoint {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			fail = false
			e = openT(t, dir, &Options{Functions: fns, CheckpointBytes: -1})
			if got := e.Pending(); got != 1 {
				t.Fatalf("Pending after the restart = %d, want 1 (page %d)", got, c)
			}
			r, err := e.Propagate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Writes) != 1 || r.Writes[0].Page != c || len(r.Flags) != 0 {
				t.Fatalf("first wave after the restart wrote %+v, raised %+v; want page %d written, no flag", r.Writes, r.Flags, c)
			}
			if got := string(readPage(t, e, c)[:6]); got != "parent" {
				t.Fatalf("page %d holds %q after the wave, want its parent's bytes", c, got)
			}
		})
	}
}

// The loader refuses recompute records a bus never writes, with
// ErrCorruption naming what is wrong; a well-formed one makes the next
// wave compute its page.
func TestLoadCheckpointRefusesBadRecomputeRecords(t *testing.T) {
	const lsn = 10
	set := func(ids ...PageID) []byte { return record.AppendPending(nil, ids) }
	for _, tc := range []struct {
		name    string
		records [][]byte
		want    string // "" when the load must succeed
	}{
		{"the derived page (control)", [][]byte{set(2)}, ""},
		{"a page that is not derived", [][]byte{set(1, 2)}, "names page 1, which is not a derived page"},
		{"a page the checkpoint does not hold", [][]byte{set(2, 3)}, "names page 3, which is not a derived page"},
		{"a page twice across records", [][]byte{set(2), set(2)}, "starts at page 2, not after page 2"},
		{"no page IDs", [][]byte{{0}}, "recompute record: record: malformed payload: page set holds 0 page IDs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f framedRecords
			f.add(record.CkptState, record.AppendState(nil, &record.State{LastLSN: lsn, NextID: 3, Pages: 2, Edges: 1, Bindings: 1}))
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptPage, smallPage(2))
			f.add(record.CkptEdge, record.AppendEdge(nil, record.OpAddEdge, 1, 2, uint8(EdgeData)))
			f.add(record.CkptBinding, record.AppendBind(nil, 2, "passthrough", nil, []PageID{1}))
			for _, p := range tc.records {
				f.add(record.CkptRecompute, p)
			}
			checkFramedLoad(t, f, lsn, tc.want, 1)
		})
	}
}

func readPage(t *testing.T, e *Bus, id PageID) []byte {
	t.Helper()
	b, _, err := e.ReadPage(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unbind drops the page from the pages to compute: a bus that runs no
// waves (a follower applying a leader's binds and unbinds) keeps none of
// them, and a checkpoint names none.
func TestUnbindLeavesNothingToRecompute(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 3, 8)
	for _, c := range ids[1:] {
		if err := e.Bind(ctx, c, "passthrough", nil, ids[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Unbind(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 1 || len(e.recompute) != 1 || e.recompute[0] != ids[2] {
		t.Fatalf("after Unbind of page %d: Pending %d, pages to compute %v; want 1, [%d]", ids[1], got, e.recompute, ids[2])
	}
}

// Unbind takes a page out of the pages to compute by moving at most one
// other page of the list (the last one into its place), not every page
// after it: a bus that runs no waves (a follower, a recovery replaying a
// log tail, deferred mode) unbinding n pages bound since the last wave took
// n*n/2 steps (40,000 pages: 2.8 s). Moves are counted, not timed. Which
// pages stay listed, and Pending, are checked against a model whatever the
// order of the unbinds.
func TestUnbindMovesAtMostOnePageToCompute(t *testing.T) {
	const n = 64
	for _, tc := range []struct {
		name  string
		order func(i int) int // the i-th unbind takes bound page order(i)
	}{
		{"first bound first", func(i int) int { return i }},
		{"last bound first", func(i int) int { return n - 1 - i }},
		{"interleaved", func(i int) int { return (i * 37) % n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openMem(t, nil)
			ids := mustCreate(t, e, n+1, 8)
			bound := ids[1:]
			for _, c := range bound {
				if err := e.Bind(ctx, c, "passthrough", nil, ids[:1]); err != nil {
					t.Fatal(err)
				}
			}
			listed := map[PageID]bool{}
			for _, c := range bound {
				listed[c] = true
			}
			for i := range n {
				c := bound[tc.order(i)]
				before := slices.Clone(e.recompute)
				if err := e.Unbind(ctx, c); err != nil {
					t.Fatal(err)
				}
				delete(listed, c)
				moved := 0
				for j, id := range e.recompute {
					if before[j] != id {
						moved++
					}
				}
				if moved > 1 {
					t.Fatalf("Unbind of page %d moved %d other pages to compute; want at most 1", c, moved)
				}
				if len(e.recompute) != len(listed) || e.Pending() != len(listed) {
					t.Fatalf("after Unbind of page %d: %d pages to compute, Pending %d; want %d", c, len(e.recompute), e.Pending(), len(listed))
				}
				for _, id := range e.recompute {
					if !listed[id] {
						t.Fatalf("after Unbind of page %d: page %d still to compute", c, id)
					}
				}
			}
			// Bound again, a page is computed by the next wave.
			if err := e.Bind(ctx, bound[0], "passthrough", nil, ids[:1]); err != nil {
				t.Fatal(err)
			}
			if got := e.Pending(); got != 1 {
				t.Fatalf("Pending after binding page %d again = %d, want 1", bound[0], got)
			}
			if r, err := e.Propagate(ctx); err != nil || r.Recomputed != 1 {
				t.Fatalf("wave after binding page %d again: %+v, %v; want it computed", bound[0], r, err)
			}
		})
	}
}
