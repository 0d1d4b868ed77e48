package mmsb

import (
	"errors"
	"slices"
	"testing"
)

// TestRemoveEdgeAllEdgeTypes: RemoveEdge with typ AllEdgeTypes removes the
// edges of every type between parent and child, as RemoveEdges does, and
// logs the same operation (recovery removes them too); its doc said any
// typ not an edge type was ErrInvalidOption. Other edges stay, and a typ
// that is neither an edge type nor AllEdgeTypes is still refused.
func TestRemoveEdgeAllEdgeTypes(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	ids := mustCreate(t, e, 3, 4)
	p, c, other := ids[0], ids[1], ids[2]
	for _, typ := range []EdgeType{EdgeData, EdgeControl, EdgeCompiler} {
		if err := e.AddEdge(ctx, p, c, typ); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddEdge(ctx, p, other, EdgeControl); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []EdgeType{EdgeType(4), EdgeType(200)} {
		if err := e.RemoveEdge(ctx, p, c, typ); !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("RemoveEdge of type %d: %v; want ErrInvalidOption", typ, err)
		}
	}
	if err := e.RemoveEdge(ctx, p, c, AllEdgeTypes); err != nil {
		t.Fatalf("RemoveEdge(AllEdgeTypes): %v", err)
	}
	want := []Edge{{Parent: p, Child: other, Type: EdgeControl}}
	if got := e.Children(p); !slices.Equal(got, want) {
		t.Fatalf("children after RemoveEdge(AllEdgeTypes) = %v; want %v", got, want)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir, nil)
	if got := e.Children(p); !slices.Equal(got, want) {
		t.Fatalf("children after reopen = %v; want %v", got, want)
	}
}
