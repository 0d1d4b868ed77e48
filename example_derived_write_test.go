package mmsb_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mmsb-go/mmsb"
)

// A derived page may be written by Commit like any page: the write is
// logged and stands, and its children are recomputed from it, until a
// parent changes and the next wave recomputes the page from its parents.
func ExampleBus_Bind_directWrite() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	_ = bus.Bind(ctx, c, "f64.sum", nil, []mmsb.PageID{a, b}) // c = a + b
	_ = bus.Bind(ctx, d, "f64.sum", nil, []mmsb.PageID{c})    // d = c
	value := func(id mmsb.PageID) float64 {
		p, _, _ := bus.ReadPage(id, nil)
		return math.Float64frombits(binary.LittleEndian.Uint64(p))
	}
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, f64(2)), mmsb.Write(b, 0, f64(3))})
	_, _ = bus.Propagate(ctx)
	fmt.Println("c =", value(c), "d =", value(d))

	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(c, 0, f64(100))})
	_, _ = bus.Propagate(ctx)
	fmt.Println("after writing c: c =", value(c), "d =", value(d))

	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, f64(4))})
	_, _ = bus.Propagate(ctx)
	fmt.Println("after writing a: c =", value(c), "d =", value(d))
	// Output:
	// c = 5 d = 5
	// after writing c: c = 100 d = 100
	// after writing a: c = 7 d = 7
}
