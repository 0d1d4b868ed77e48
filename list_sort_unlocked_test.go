package mmsb

import (
	"slices"
	"testing"
)

// Bindings, Edges, Children and Parents copy what they list under the read
// lock and sort the copy after releasing it: sorted under the lock (200,000
// bindings), the sort held commits back. The hook runs where each sorts and
// checks that the bus's lock is free then; the lists come out sorted.
func TestListsSortWithoutTheLock(t *testing.T) {
	e := openMem(t, &Options{Functions: copyFuncs()})
	ids := mustCreate(t, e, 6, 8)
	root := ids[0]
	// Bound in descending order, so that the map and the graph do not hand
	// them over sorted by chance.
	for i := len(ids) - 1; i >= 2; i-- {
		if err := e.Bind(ctx, ids[i], "copy", nil, []PageID{root}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddEdge(ctx, ids[1], root, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[1], ids[3], EdgeControl); err != nil {
		t.Fatal(err)
	}
	sorts, locked := 0, 0
	e.listSortHook = func() {
		sorts++
		if !e.mu.TryLock() {
			locked++
			return
		}
		e.mu.Unlock()
	}
	defer func() { e.listSortHook = nil }()
	cmp := func(a, b Edge) int {
		switch {
		case a.Parent != b.Parent:
			return int(a.Parent) - int(b.Parent)
		case a.Child != b.Child:
			return int(a.Child) - int(b.Child)
		}
		return int(a.Type) - int(b.Type)
	}
	if b := e.Bindings(); len(b) != 4 || !slices.IsSorted(b) {
		t.Errorf("Bindings = %v, want 4 pages ascending", b)
	}
	for name, es := range map[string][]Edge{"Edges": e.Edges(), "Children": e.Children(root), "Parents": e.Parents(ids[3])} {
		if len(es) < 2 || !slices.IsSortedFunc(es, cmp) {
			t.Errorf("%s = %v, want at least 2 edges in (parent, child, type) order", name, es)
		}
	}
	if sorts != 4 || locked != 0 {
		t.Fatalf("of the %d sorts of Bindings, Edges, Children and Parents (want 4), %d ran with the bus's lock held (want 0)", sorts, locked)
	}
}

// A checkpoint's snapshot, taken under the bus's lock, copies the bindings
// and edges unsorted; the checkpoint sorts them after, without the lock
// (the sorts of 200,000 bindings and their edges under it held commits
// back). The records come out in order: the checkpoint loads, with every
// binding and edge.
func TestCheckpointSortsWithoutTheLock(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{Functions: copyFuncs(), CheckpointBytes: -1})
	ids := mustCreate(t, e, 6, 8)
	for i := len(ids) - 1; i >= 1; i-- {
		if err := e.Bind(ctx, ids[i], "copy", nil, []PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddEdge(ctx, ids[5], ids[1], EdgeControl); err != nil {
		t.Fatal(err)
	}
	sorts, locked := 0, 0
	e.listSortHook = func() {
		sorts++
		if !e.mu.TryLock() {
			locked++
			return
		}
		e.mu.Unlock()
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.listSortHook = nil
	if sorts != 1 || locked != 0 {
		t.Fatalf("the checkpoint sorted %d times (want 1), %d of them with the bus's lock held (want 0)", sorts, locked)
	}
	wantEdges, wantBindings := e.Edges(), e.Bindings()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r := openT(t, dir, &Options{Functions: copyFuncs(), CheckpointBytes: -1})
	if r.Recovery().Checkpoint == "" {
		t.Fatalf("recovery loaded no checkpoint: %+v", r.Recovery())
	}
	if got := r.Edges(); !slices.Equal(got, wantEdges) {
		t.Errorf("edges after loading the checkpoint %v, want %v", got, wantEdges)
	}
	if got := r.Bindings(); !slices.Equal(got, wantBindings) {
		t.Errorf("bindings after loading the checkpoint %v, want %v", got, wantBindings)
	}
}
