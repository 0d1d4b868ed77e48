package mmsb

import (
	"errors"
	"slices"
	"testing"
)

// TestRecomputedCountsCallsOnly: PropagateResult.Recomputed counts the
// function calls a wave made, a call that failed or panicked included; a
// page whose function is missing (a bus opened with
// AllowMissingFunctions) is not called, so it is listed in Failed and not
// counted. The doc said "failed calls included" and the walkthrough read a
// missing function as one: `Recomputed:1 … Failed:[3 4]`.
func TestRecomputedCountsCallsOnly(t *testing.T) {
	dir := t.TempDir()
	ok := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	boom := func([][]byte, []byte, []byte) error { panic("boom") }
	e := openT(t, dir, &Options{Functions: map[string]RecomputeFunc{"ok": ok, "boom": boom, "gone": ok}})
	ids := mustCreate(t, e, 4, 8)
	src, panics, missing := ids[0], ids[1], ids[2]
	for _, b := range []struct {
		child PageID
		fn    string
	}{{panics, "boom"}, {missing, "gone"}, {ids[3], "ok"}} {
		if err := e.Bind(ctx, b.child, b.fn, nil, []PageID{src}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir, &Options{Functions: map[string]RecomputeFunc{"ok": ok, "boom": boom}, AllowMissingFunctions: true})
	commitT(t, e, w(src, 0, "s1"))
	r, err := e.Propagate(ctx)
	var rerr *RecomputeError
	if err != nil && !errors.As(err, &rerr) {
		t.Fatal(err)
	}
	if r.Recomputed != 2 || !slices.Equal(r.Failed, []PageID{panics, missing}) {
		t.Fatalf("Recomputed %d, Failed %v; want 2 calls (the panicking one and ok), failed %v", r.Recomputed, r.Failed, []PageID{panics, missing})
	}
}

// TestUnbindRemovesAdoptedDataEdge: a Data edge added before Bind from one
// of the binding's parents is adopted by the binding, and Unbind removes
// it with the binding's other edges; an edge of another type stays.
func TestUnbindRemovesAdoptedDataEdge(t *testing.T) {
	fn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	e := openT(t, "", &Options{Functions: map[string]RecomputeFunc{"copy": fn}})
	ids := mustCreate(t, e, 2, 8)
	p, c := ids[0], ids[1]
	for _, typ := range []EdgeType{EdgeData, EdgeControl} {
		if err := e.AddEdge(ctx, p, c, typ); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Bind(ctx, c, "copy", nil, []PageID{p}); err != nil {
		t.Fatal(err)
	}
	if err := e.Unbind(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := e.Parents(c); !slices.Equal(got, []Edge{{Parent: p, Child: c, Type: EdgeControl}}) {
		t.Fatalf("edges into page %d after Unbind: %v, want the Control edge alone", c, got)
	}
}
