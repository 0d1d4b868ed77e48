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

// Diff finds exactly the bytes that changed between two images of a page,
// as maximal runs (equal bytes between them are not rewritten); Apply
// writes the delta into a copy of the old image and gives the new one.
// Validate checks a delta against a page size before it is applied.
func ExampleDiff() {
	old := []byte("temperature=20.5 pressure=1013")
	cur := []byte("temperature=21.0 pressure=1009")
	d, err := delta.Diff(42, old, cur)
	if err != nil {
		panic(err)
	}
	for _, r := range d.Runs {
		fmt.Printf("offset %d: %q\n", r.Offset, r.Data)
	}
	if err := delta.Validate(&d, len(old)); err != nil {
		panic(err)
	}
	page := append([]byte(nil), old...)
	if err := delta.Apply(&d, page); err != nil {
		panic(err)
	}
	fmt.Println(string(page))

	_, err = delta.Diff(42, old, cur[:10])
	fmt.Println(errors.Is(err, delta.ErrLengthMismatch))
	// Output:
	// offset 13: "1"
	// offset 15: "0"
	// offset 28: "09"
	// temperature=21.0 pressure=1009
	// true
}

// Merge folds two deltas to one page into one, normalized (sorted,
// disjoint runs; the second delta wins where they overlap). Deltas to
// different pages cannot be merged.
func ExampleMerge() {
	a := delta.Delta{Page: 1, Runs: []delta.Run{{Offset: 0, Data: []byte("aaaa")}}}
	b := delta.Delta{Page: 1, Form: delta.FormMaskedSparse, MaskLen: 8, Mask: []byte{0b0010_0110}, Payload: []byte("BCD")}
	m, err := delta.Merge(&a, &b)
	if err != nil {
		panic(err)
	}
	for _, r := range m.Runs {
		fmt.Printf("offset %d: %q\n", r.Offset, r.Data)
	}

	_, err = delta.Merge(&a, &delta.Delta{Page: 2})
	fmt.Println(errors.Is(err, delta.ErrPageMismatch))
	// Output:
	// offset 0: "aBCa"
	// offset 5: "D"
	// true
}

// AppendEncode appends a delta's encoding to a buffer (reusing its
// capacity); Decode reads one delta back and says how many bytes it took,
// so deltas can be concatenated. Bad input is ErrMalformed.
func ExampleAppendEncode() {
	var buf []byte
	buf = delta.AppendEncode(buf, &delta.Delta{Page: 1000, Runs: []delta.Run{{Offset: 100, Data: []byte("hi")}}, Source: delta.SourceAPI})
	buf = delta.AppendEncode(buf, &delta.Delta{Page: 7, Runs: []delta.Run{{Offset: 0, Data: []byte("x")}}, CheckEpoch: true, ExpectEpoch: 3})
	fmt.Printf("% x\n", buf)

	var d delta.Delta
	for rest := buf; len(rest) > 0; {
		n, err := delta.Decode(rest, &d)
		if err != nil {
			panic(err)
		}
		fmt.Printf("page %d run %d %q source %q check %v/%d\n", d.Page, d.Runs[0].Offset, d.Runs[0].Data, d.Source, d.CheckEpoch, d.ExpectEpoch)
		rest = rest[n:]
	}

	_, err := delta.Decode(buf[:3], &d)
	fmt.Println(errors.Is(err, delta.ErrMalformed))
	// Output:
	// e8 07 08 01 64 02 68 69 00 07 04 01 00 01 78 03
	// page 1000 run 100 "hi" source "api" check false/0
	// page 7 run 0 "x" source "" check true/3
	// true
}
