package mmsb_test

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// BindingFunc names the function a derived page is bound to, copying
// nothing: here, the derived pages bound to "f64.sum".
func ExampleBus_BindingFunc() {
	ctx := context.Background()
	bus, _ := mmsb.Open("", nil)
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	_ = bus.Bind(ctx, ids[1], "f64.sum", nil, ids[:1])
	_ = bus.Bind(ctx, ids[2], "f64.max", nil, ids[:1])
	_ = bus.Bind(ctx, ids[3], "f64.sum", nil, ids[:3])
	for _, id := range bus.Bindings() {
		if fn, _ := bus.BindingFunc(id); fn == "f64.sum" {
			fmt.Println("page", id)
		}
	}
	_, derived := bus.BindingFunc(ids[0])
	fmt.Println("page", ids[0], "derived:", derived)
	// Output:
	// page 2
	// page 4
	// page 1 derived: false
}
