package mmsb_test

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// ParentsRange reads a page's incoming edges a few at a time, copying
// only those: here, a page summing four pages, two edges at a time.
func ExampleBus_ParentsRange() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	sum := ids[4]
	_ = bus.Bind(ctx, sum, "f64.sum", nil, ids[:4])
	for offset := 0; ; offset += 2 {
		edges, total := bus.ParentsRange(sum, offset, 2)
		if offset >= total {
			break
		}
		fmt.Println("edges", offset, "of", total, ":", edges)
	}
	// Output:
	// edges 0 of 4 : [{1 5 data} {2 5 data}]
	// edges 2 of 4 : [{3 5 data} {4 5 data}]
}

// ChildrenRange reads the first of a page's outgoing edges: here, one
// page feeding three sums, two of them read.
func ExampleBus_ChildrenRange() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	for _, sum := range ids[1:] {
		_ = bus.Bind(ctx, sum, "f64.sum", nil, ids[:1])
	}
	edges, total := bus.ChildrenRange(ids[0], 0, 2)
	fmt.Println(edges, "of", total)
	// Output:
	// [{1 2 data} {1 3 data}] of 3
}

// EdgesAmong reads the edges between the pages a view shows, whatever
// else they are linked to: here, a sum of four pages and two of them.
func ExampleBus_EdgesAmong() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	sum := ids[4]
	_ = bus.Bind(ctx, sum, "f64.sum", nil, ids[:4])
	_ = bus.AddEdge(ctx, ids[1], sum, mmsb.EdgeControl)
	fmt.Println(bus.EdgesAmong([]mmsb.PageID{sum, ids[1], ids[3]}))
	// Output:
	// [{2 5 data} {2 5 control} {4 5 data}]
}
