package main

import (
	"strings"
	"testing"
	"unsafe"
)

// v2 stands for a struct of a later ABI: v1's fields, then one more. A
// library built with v2 must accept a v1 program's smaller struct, reading
// only its bytes (b takes its default, 0), and a v3 program's larger one
// whose extra bytes are zero; both ABIs' structs exist only here, since no
// struct of the real ABI has grown yet (test/struct_size_test.c covers the
// real ones).
type v1 struct {
	size uint32
	a    uint32
}

type v2 struct {
	size uint32
	a    uint32
	b    uint64
}

var v2Layout = structLayout{"v2", unsafe.Sizeof(v1{}), unsafe.Sizeof(v2{}), unsafe.Alignof(v2{})}

func TestStructSizeRule(t *testing.T) {
	// An older program's smaller struct, followed by bytes that are not
	// its own (they must not be read).
	var old struct {
		v1
		beyond [8]byte
	}
	old.v1 = v1{uint32(unsafe.Sizeof(v1{})), 7}
	old.beyond = [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	var got v2
	if err := v2Layout.copyIn(unsafe.Pointer(&got), unsafe.Pointer(&old), old.size); err != nil {
		t.Fatalf("an older program's struct (first published size) was refused: %v", err)
	}
	if got != (v2{size: old.size, a: 7}) {
		t.Errorf("older struct read as %+v: want a = 7 and b at its default 0 (bytes past its struct_size were read)", got)
	}

	// A newer program's larger struct: accepted with a zero tail, refused
	// naming the first non-zero byte otherwise.
	var newer struct {
		v2
		c uint64
	}
	newer.v2 = v2{uint32(unsafe.Sizeof(newer)), 1, 2}
	got = v2{}
	if err := v2Layout.copyIn(unsafe.Pointer(&got), unsafe.Pointer(&newer), newer.size); err != nil {
		t.Fatalf("a newer program's struct with a zero tail was refused: %v", err)
	}
	if got != newer.v2 {
		t.Errorf("newer struct read as %+v, want %+v", got, newer.v2)
	}
	newer.c = 1 << 16
	err := v2Layout.copyIn(unsafe.Pointer(&got), unsafe.Pointer(&newer), newer.size)
	if err == nil || !strings.Contains(err.Error(), "struct_size is 24") || !strings.Contains(err.Error(), "byte 18 is 0x1") {
		t.Errorf("a newer struct with a non-zero field past the known size: %v, want a refusal naming byte 18", err)
	}

	// Output: a smaller struct gets only its bytes, a larger one zeros.
	src := v2{uint32(unsafe.Sizeof(v1{})), 5, 6}
	out := old
	if err := v2Layout.copyOut(unsafe.Pointer(&out), unsafe.Pointer(&src), src.size); err != nil {
		t.Fatalf("copyOut to an older struct: %v", err)
	}
	if out.v1 != (v1{src.size, 5}) || out.beyond != old.beyond {
		t.Errorf("copyOut to an older struct wrote %+v: bytes past its struct_size changed", out)
	}
	newer.c = ^uint64(0)
	src.size = uint32(unsafe.Sizeof(newer))
	if err := v2Layout.copyOut(unsafe.Pointer(&newer), unsafe.Pointer(&src), src.size); err != nil {
		t.Fatalf("copyOut to a newer struct: %v", err)
	}
	if newer.v2 != src || newer.c != 0 {
		t.Errorf("copyOut to a newer struct: %+v, want %+v and the unknown field zeroed", newer, src)
	}

	// Sizes that are no struct of the ABI: nothing is read or written.
	for _, tc := range []struct {
		size uint32
		want string
	}{
		{0, "smaller than 8"},
		{4, "smaller than 8"},
		{13, "not a multiple of"},
		{maxStructBytes + 8, "larger than 4096"},
		{^uint32(0), "larger than 4096"},
	} {
		for name, f := range map[string]func(dst, src unsafe.Pointer, declared uint32) error{
			"copyIn": v2Layout.copyIn, "copyOut": v2Layout.copyOut,
		} {
			err := f(nil, nil, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s with struct_size %d: %v, want an error saying %q", name, tc.size, err, tc.want)
			}
		}
	}
}

// TestStructSizeSpanAtTopOfAddressSpace: a caller's struct whose declared
// struct_size would pass the end of the address space is refused by
// copyIn and copyOut, as spanFits refuses the exports' arrays, instead of
// the panic of unsafe.Slice (a recovered panic, MMSB_ERR_INTERNAL): at the
// last byte, 7, 8 and 9 bytes before it and a page before it, for sizes
// the size rule accepts. Nothing there is read or written: the refusal
// comes first, and it is exactly unsafe.Slice's condition (the runtime
// itself is compared, except under -race, where checkptr makes a failing
// unsafe.Slice fatal).
func TestStructSizeSpanAtTopOfAddressSpace(t *testing.T) {
	top := ^uintptr(0)
	call := func(f func(dst, src unsafe.Pointer, declared uint32) error, dst, src unsafe.Pointer, declared uint32) (panicked any, err error) {
		defer func() { panicked = recover() }()
		return nil, f(dst, src, declared)
	}
	var buf v2
	for _, p := range []uintptr{top, top - 6, top - 7, top - 8, top - 15, top - 4095} {
		at := *(*unsafe.Pointer)(unsafe.Pointer(&p)) // not a Go pointer: no conversion vet would question
		for _, declared := range []uint32{8, 16, 24, 4088, maxStructBytes} {
			if spanFits(p, uint64(declared), 1) {
				if !raceEnabled && sliceFails[byte](p, int(declared)) {
					t.Errorf("%d bytes at %#x: spanFits accepts them, unsafe.Slice does not", declared, p)
				}
				continue // would read or write memory that is not there
			}
			if !raceEnabled && !sliceFails[byte](p, int(declared)) {
				t.Errorf("%d bytes at %#x: spanFits refuses them, unsafe.Slice makes them", declared, p)
			}
			for _, tc := range []struct {
				name     string
				f        func(dst, src unsafe.Pointer, declared uint32) error
				dst, src unsafe.Pointer
			}{
				{"copyIn", v2Layout.copyIn, unsafe.Pointer(&buf), at},
				{"copyOut", v2Layout.copyOut, at, unsafe.Pointer(&buf)},
			} {
				panicked, err := call(tc.f, tc.dst, tc.src, declared)
				if panicked != nil {
					t.Errorf("%s of a struct_size %d struct at %#x panicked: %v", tc.name, declared, p, panicked)
					continue
				}
				if err == nil || !strings.Contains(err.Error(), "would pass the end of the address space") {
					t.Errorf("%s of a struct_size %d struct at %#x: %v, want a refusal saying it passes the end of the address space", tc.name, declared, p, err)
				}
			}
		}
	}
}
