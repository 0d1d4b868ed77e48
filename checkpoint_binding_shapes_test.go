package mmsb

import (
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckpointOfEveryBindingShapeReopens: the load check that a derived
// page's data edges are exactly its binding's parents refuses no checkpoint
// a bus writes. Bindings and edges in every shape the API allows (a parent
// listed twice, edges of the other types into a bound page from a parent
// and from another page, a data edge added before the binding that lists
// its parent and again after it, a chain, a page unbound and then given a
// data edge from another page, a page rebound after its old parent was
// freed, a parent of 600 bindings and a binding of 600 parents: both ends
// of the graph's hub index), checkpointed before a wave (pending and
// recompute records) and after one, reopen from the checkpoint with the
// same state, bindings and edges.
func TestCheckpointOfEveryBindingShapeReopens(t *testing.T) {
	fs := vfs.NewMem()
	first := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	opts := func() *Options {
		return &Options{FS: fs, CheckpointBytes: -1, Functions: map[string]RecomputeFunc{"first": first}}
	}
	e := openT(t, "/bus", opts())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	p := mustCreate(t, e, 12, 8)
	// A parent listed twice: one data edge.
	must(e.Bind(ctx, p[1], "first", nil, []PageID{p[0], p[0]}))
	// Edges of the other types into a bound page, from a parent and not.
	for _, typ := range []EdgeType{EdgeControl, EdgeGPUSync, EdgeCompiler} {
		must(e.AddEdge(ctx, p[0], p[1], typ))
		must(e.AddEdge(ctx, p[2], p[1], typ))
	}
	// A data edge before the binding that lists its parent, and again after.
	must(e.AddEdge(ctx, p[3], p[4], EdgeData))
	must(e.Bind(ctx, p[4], "first", nil, []PageID{p[3], p[2]}))
	must(e.AddEdge(ctx, p[2], p[4], EdgeData))
	// A chain of derived pages.
	must(e.Bind(ctx, p[5], "first", nil, []PageID{p[4], p[1]}))
	// Unbound, then a data edge from another page; and a parent of a binding.
	must(e.Bind(ctx, p[6], "first", nil, []PageID{p[7]}))
	must(e.Unbind(ctx, p[6]))
	must(e.AddEdge(ctx, p[8], p[6], EdgeData))
	must(e.Bind(ctx, p[9], "first", nil, []PageID{p[6], p[7]}))
	// Rebound after its old parent was freed.
	must(e.Bind(ctx, p[10], "first", nil, []PageID{p[11]}))
	must(e.Unbind(ctx, p[10]))
	must(e.FreePage(ctx, p[11]))
	must(e.Bind(ctx, p[10], "first", nil, []PageID{p[0]}))
	// A binding of 600 parents; a parent of 600 bindings (one of them
	// hub[0]'s), half of which have a second parent.
	hub := mustCreate(t, e, 601, 8)
	must(e.Bind(ctx, hub[0], "first", nil, hub[1:]))
	for i, c := range hub[1:600] {
		parents := []PageID{hub[600]}
		if i%2 == 1 {
			parents = append(parents, p[0])
		}
		must(e.Bind(ctx, c, "first", nil, parents))
	}
	if _, err := e.Commit(ctx, []Delta{w(p[0], 0, "a"), w(p[2], 1, "b")}); err != nil {
		t.Fatal(err)
	}
	for _, wave := range []bool{false, true} {
		if wave {
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		ck, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		hash, binds, edges := hashOf(t, e), e.Bindings(), e.Edges()
		if wave == (e.Pending() > 0) {
			t.Fatalf("after wave %v: %d pages pending", wave, e.Pending())
		}
		must(e.Close())
		e = openT(t, "/bus", opts())
		if rec := e.Recovery(); rec.Checkpoint != ck.Path || rec.CheckpointLSN != ck.LSN {
			t.Fatalf("after wave %v: reopened from %q at %d (skipped %q), want the checkpoint %q at %d",
				wave, rec.Checkpoint, rec.CheckpointLSN, rec.SkippedCheckpoint, ck.Path, ck.LSN)
		}
		if got := hashOf(t, e); got != hash {
			t.Fatalf("after wave %v: state hash %x reopened, want %x", wave, got, hash)
		}
		if got := e.Bindings(); !slices.Equal(got, binds) {
			t.Fatalf("after wave %v: bindings %v reopened, want %v", wave, got, binds)
		}
		if got := e.Edges(); !slices.Equal(got, edges) {
			t.Fatalf("after wave %v: %d edges reopened, want %d", wave, len(got), len(edges))
		}
	}
}
