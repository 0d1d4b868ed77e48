package vfs

import "testing"

// TestMemSizeHintLarge: a hint above 2 GiB (a 4M-page checkpoint is 4 GiB) is
// followed, so that the file does not grow by doubling copies; a nonsense
// hint (the negative control) is not. Capacity is reserved, not touched, so
// the test costs address space only.
func TestMemSizeHintLarge(t *testing.T) {
	for _, tc := range []struct {
		hint   int64
		follow bool
	}{{1<<31 + 4096, true}, {1 << 40, false}} {
		fs := NewMem()
		f, err := fs.Create("/big")
		if err != nil {
			t.Fatal(err)
		}
		f.(SizeHinter).SizeHint(tc.hint)
		if got := int64(cap(f.(*memFile).n.data)) >= tc.hint; got != tc.follow {
			t.Fatalf("hint %d: capacity %d, followed %v, want %v", tc.hint, cap(f.(*memFile).n.data), got, tc.follow)
		}
		_ = f.Close()
	}
}
