package main

import (
	"fmt"
	"unsafe"
)

// maxStructBytes bounds a caller's struct_size: no struct of the ABI comes
// near it, and a garbage size must not make the library scan (and fault
// on) gigabytes of the caller's memory for the zero check.
const maxStructBytes = 4096

// structLayout is what the library knows of one struct with a struct_size
// field (its first field, a uint32_t).
type structLayout struct {
	name  string  // C type name, for messages
	first uintptr // sizeof the struct in the first ABI that had it
	known uintptr // sizeof the struct this library was built with
	align uintptr // alignof the struct this library was built with
}

// checkSize reports whether declared is a struct_size the library accepts
// for l: at least the first published size, a multiple of the struct's
// alignment (every sizeof of a C struct is one, and adding fields never
// lowers the alignment), and at most maxStructBytes.
func (l structLayout) checkSize(declared uint32) error {
	d := uintptr(declared)
	switch {
	case d < l.first:
		return fmt.Errorf("mmsb: %s.struct_size is %d, smaller than %d (sizeof(%s) of the first ABI that had it): not an %s",
			l.name, declared, l.first, l.name, l.name)
	case d > maxStructBytes:
		return fmt.Errorf("mmsb: %s.struct_size is %d, larger than %d (no struct of the ABI comes near it): not an %s",
			l.name, declared, maxStructBytes, l.name)
	case d%l.align != 0:
		return fmt.Errorf("mmsb: %s.struct_size is %d, not a multiple of %d (the struct's alignment): no sizeof(%s) is",
			l.name, declared, l.align, l.name)
	}
	return nil
}

// checkSpan refuses a caller's struct at p whose declared bytes would pass
// the end of the address space (see spanFits), before unsafe.Slice, which
// panics on it (a recovered panic, MMSB_ERR_INTERNAL "please report").
func (l structLayout) checkSpan(p unsafe.Pointer, declared uint32) error {
	if spanFits(uintptr(p), uint64(declared), 1) {
		return nil
	}
	return fmt.Errorf("mmsb: %s.struct_size is %d, and %d bytes at %#x would pass the end of the address space: not an %s",
		l.name, declared, declared, uintptr(p), l.name)
}

// copyIn copies the caller's struct at src, of declared bytes, into dst
// (l.known bytes): only the bytes the caller declared are read, and fields
// past them keep dst's values (the caller zeroed dst: the defaults). A
// larger struct, from a program built against a newer header, is accepted
// only when every byte past l.known is zero, i.e. the fields this library
// does not know are left at their defaults; anything else asks for
// something this library cannot do, and is refused naming the byte.
func (l structLayout) copyIn(dst, src unsafe.Pointer, declared uint32) error {
	if err := l.checkSize(declared); err != nil {
		return err
	}
	if err := l.checkSpan(src, declared); err != nil {
		return err
	}
	d := uintptr(declared)
	n := min(d, l.known)
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(src), n))
	if d > l.known {
		tail := unsafe.Slice((*byte)(unsafe.Add(src, l.known)), d-l.known)
		for i, b := range tail {
			if b != 0 {
				return fmt.Errorf("mmsb: %s.struct_size is %d, larger than the %d bytes this library knows, and byte %d is %#x, not 0: "+
					"a field of a newer ABI that this library cannot honour (leave it 0, or load a newer library)",
					l.name, declared, l.known, l.known+uintptr(i), b)
			}
		}
	}
	return nil
}

// copyOut writes the struct at src (l.known bytes) to the caller's dst of
// declared bytes: only the bytes the caller declared are written (an older
// program's smaller struct gets its fields and nothing past them), and
// bytes past l.known, fields of a newer ABI this library does not fill, are
// set to zero. An output struct's tail is not checked for zero as copyIn's
// is: the library overwrites it, so what the caller left there is moot.
func (l structLayout) copyOut(dst, src unsafe.Pointer, declared uint32) error {
	if err := l.checkSize(declared); err != nil {
		return err
	}
	if err := l.checkSpan(dst, declared); err != nil {
		return err
	}
	d := uintptr(declared)
	n := min(d, l.known)
	copy(unsafe.Slice((*byte)(dst), n), unsafe.Slice((*byte)(src), n))
	if d > l.known {
		clear(unsafe.Slice((*byte)(unsafe.Add(dst, l.known)), d-l.known))
	}
	return nil
}
