package delta_test

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/delta"
)

// ApplyRun writes one run into a page; a run past the page's end is
// refused and changes nothing.
func ExampleApplyRun() {
	page := make([]byte, 12)
	if err := delta.ApplyRun(&delta.Run{Offset: 4, Data: []byte("run!")}, page); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%q\n", page)

	err := delta.ApplyRun(&delta.Run{Offset: 10, Data: []byte("long")}, page)
	fmt.Println(errors.Is(err, delta.ErrOutOfRange), fmt.Sprintf("%q", page))
	// Output:
	// "\x00\x00\x00\x00run!\x00\x00\x00\x00"
	// true "\x00\x00\x00\x00run!\x00\x00\x00\x00"
}
