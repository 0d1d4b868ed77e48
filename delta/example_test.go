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

// DecodeOneRun reads the common delta back fast: page, offset and bytes,
// aliasing the encoding. Any other delta (here, one with two runs) is
// left to Decode.
func ExampleDecodeOneRun() {
	enc := delta.AppendEncode(nil, &delta.Delta{Page: 7, Runs: []delta.Run{{Offset: 3, Data: []byte("abc")}}})
	page, off, data, n, ok := delta.DecodeOneRun(enc)
	fmt.Println(page, off, string(data), n == len(enc), ok)

	two := delta.AppendEncode(nil, &delta.Delta{Page: 7, Runs: []delta.Run{{Data: []byte("a")}, {Offset: 5, Data: []byte("b")}}})
	_, _, _, _, ok = delta.DecodeOneRun(two)
	var d delta.Delta
	_, err := delta.Decode(two, &d)
	fmt.Println(ok, len(d.Runs), err)
	// Output:
	// 7 3 abc true true
	// false 2 <nil>
}
