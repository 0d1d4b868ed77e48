package vfs

import (
	"bytes"
	"io"
	"testing"
)

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

// TestSizeHintPrefaultKeepsContent: the room a size hint reserves is
// faulted in by another goroutine (prefaultAsync) while the file is being
// written; that changes no byte.
func TestSizeHintPrefaultKeepsContent(t *testing.T) {
	fs := NewMem()
	f, err := fs.Create("/a")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 0, 8<<20)
	if _, err := f.Write([]byte("head")); err != nil {
		t.Fatal(err)
	}
	want = append(want, "head"...)
	f.(SizeHinter).SizeHint(8 << 20)
	piece := make([]byte, 4096)
	for i := 0; len(want)+len(piece) <= 8<<20; i++ {
		for k := range piece {
			piece[k] = byte(i + k)
		}
		if _, err := f.Write(piece); err != nil {
			t.Fatal(err)
		}
		want = append(want, piece...)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := fs.Open("/a")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(g, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("content changed while the reserved room was faulted in")
	}
}
