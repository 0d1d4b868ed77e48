package mmsb_test

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// BindingParents reads a derived page's binding, its function and a few
// of its parents at a time, copying only those: here, a page summing five
// pages, two parents at a time.
func ExampleBus_BindingParents() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	sum := ids[5]
	_ = bus.Bind(ctx, sum, "f64.sum", nil, ids[:5])
	for offset := 0; ; offset += 2 {
		b, total, _ := bus.BindingParents(sum, offset, 2)
		if offset >= total {
			break
		}
		fmt.Println(b.Func, "parents", offset, "of", total, ":", b.Parents)
	}
	_, _, derived := bus.BindingParents(ids[0], 0, 2)
	fmt.Println("page", ids[0], "derived:", derived)
	// Output:
	// f64.sum parents 0 of 5 : [1 2]
	// f64.sum parents 2 of 5 : [3 4]
	// f64.sum parents 4 of 5 : [5]
	// page 1 derived: false
}
