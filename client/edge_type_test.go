package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestEdgeTypeChecked: the client's AddEdge and RemoveEdge take edge
// types as the bus does. Until 2026-12-06 the client sent a type the bus
// does not define as a Data edge (AddEdge added a Data edge, which drives
// recomputation, where the bus refuses the call; RemoveEdge removed the
// Data edge), and mmsb.AllEdgeTypes alike (RemoveEdge removed the Data
// edge alone where the bus removes every type).
func TestEdgeTypeChecked(t *testing.T) {
	ctx := context.Background()
	bus, c, _ := waveBus(t) // pages 1 and 2 (2 bound to 1)
	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 1}, {Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	p, ch := ids[0], ids[1]
	edges := func() []mmsb.Edge { return bus.Children(p) }

	for _, typ := range []mmsb.EdgeType{9, mmsb.AllEdgeTypes} {
		if err := c.AddEdge(ctx, p, ch, typ); !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("AddEdge of type %d: %v, want mmsb.ErrInvalidOption", typ, err)
		}
		if es := edges(); len(es) != 0 {
			t.Fatalf("AddEdge of type %d added %v", typ, es)
		}
	}
	// The negative control: known types are added.
	for _, typ := range []mmsb.EdgeType{mmsb.EdgeData, mmsb.EdgeControl} {
		if err := c.AddEdge(ctx, p, ch, typ); err != nil {
			t.Fatalf("AddEdge of type %v: %v", typ, err)
		}
	}
	if err := c.RemoveEdge(ctx, p, ch, 9); !errors.Is(err, mmsb.ErrInvalidOption) {
		t.Fatalf("RemoveEdge of type 9: %v, want mmsb.ErrInvalidOption", err)
	}
	if es := edges(); len(es) != 2 {
		t.Fatalf("after RemoveEdge of type 9: edges %v, want the data and control ones", es)
	}
	if err := c.RemoveEdge(ctx, p, ch, mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	if es := edges(); len(es) != 1 || es[0].Type != mmsb.EdgeData {
		t.Fatalf("after RemoveEdge of the control edge: %v, want the data edge alone", es)
	}
	if err := c.AddEdge(ctx, p, ch, mmsb.EdgeGPUSync); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveEdge(ctx, p, ch, mmsb.AllEdgeTypes); err != nil {
		t.Fatalf("RemoveEdge of every type: %v", err)
	}
	if es := edges(); len(es) != 0 {
		t.Fatalf("after RemoveEdge of every type: %v left", es)
	}
	// The same on the embedded bus, for comparison.
	if err := bus.AddEdge(ctx, p, ch, 9); !errors.Is(err, mmsb.ErrInvalidOption) {
		t.Fatalf("the bus's AddEdge of type 9: %v", err)
	}
}
