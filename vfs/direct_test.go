package vfs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

func TestAlignedBuffer(t *testing.T) {
	for _, n := range []int{0, 1, vfs.DirectAlign, 1 << 20} {
		b := vfs.AlignedBuffer(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("AlignedBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(b)))%vfs.DirectAlign != 0 {
			t.Fatalf("AlignedBuffer(%d) at %p is not %d-aligned", n, unsafe.SliceData(b), vfs.DirectAlign)
		}
	}
}

// TestSetDirect: an OS file with direct writes on takes aligned writes and
// refuses an unaligned one (the kernel's EINVAL: proof that O_DIRECT is
// really on, not just accepted), then, turned off, takes any write; the
// bytes read back are what was written. Skips, naming why, where the
// directory's filesystem cannot write directly (tmpfs before Linux 6.6),
// and fails there under MMSB_REQUIRE_EXTERNAL=1 (CI).
func TestSetDirect(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("O_DIRECT is Linux-only here")
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f, err := vfs.Default.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, ok := f.(vfs.DirectWriter)
	if !ok {
		t.Fatal("an OS file is not a vfs.DirectWriter")
	}
	if err := d.SetDirect(true); err != nil {
		testutil.Missing(t, "the filesystem of %s cannot write directly (O_DIRECT): %v", dir, err)
	}
	block := vfs.AlignedBuffer(2 * vfs.DirectAlign)
	for i := range block {
		block[i] = byte(i * 7)
	}
	if _, err := f.Write(block); err != nil {
		t.Fatalf("aligned direct write: %v", err)
	}
	if n, err := f.Write(block[1 : 1+vfs.DirectAlign]); !errors.Is(err, syscall.EINVAL) || n != 0 {
		t.Fatalf("misaligned direct write: %d bytes, %v; want 0 bytes and EINVAL", n, err)
	}
	if err := d.SetDirect(false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("tail")); err != nil {
		t.Fatalf("write through the page cache after direct: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(block), "tail"...); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d (the direct block and the tail)", len(got), len(want))
	}
}
