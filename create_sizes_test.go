package mmsb

import (
	"testing"
)

// Pages of every size from 1 byte to MaxPageSize (each power of two, and
// one byte either side) are created, written at their last byte and read
// back. On 32-bit platforms pages of 512 KiB and 1 MiB could not be
// created: the chunk size of their class overflowed int ("mmap 0 bytes").
func TestCreateEverySize(t *testing.T) {
	e := openT(t, "", &Options{LazyPageMemory: true})
	defer e.Close()
	var sizes []int
	for s := 1; s <= MaxPageSize; s <<= 1 {
		for _, d := range []int{-1, 0, 1} {
			if n := s + d; n >= 1 && n <= MaxPageSize && (len(sizes) == 0 || n > sizes[len(sizes)-1]) {
				sizes = append(sizes, n)
			}
		}
	}
	for _, size := range sizes {
		id, err := e.CreatePage(ctx, PageSpec{Size: size})
		if err != nil {
			t.Fatalf("create a page of %d bytes: %v", size, err)
		}
		commitT(t, e, w(id, size-1, "z"))
		b, _, err := e.ReadPage(id, nil)
		if err != nil || len(b) != size || b[size-1] != 'z' {
			t.Fatalf("page of %d bytes read back as %d bytes (last %q), %v", size, len(b), b[len(b)-1:], err)
		}
		if err := e.FreePage(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
