package vfs_test

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// BenchmarkMemWrite measures MemFS append throughput, with and without a Sync
// after every write (Sync is O(1): it shares memory with the live contents).
// The file is replaced by a new one every 64 MiB so memory stays bounded.
func BenchmarkMemWrite(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/sync=%v", size, sync), func(b *testing.B) {
				fs := vfs.NewMem()
				benchWrite(b, fs, size, sync)
			})
		}
	}
	b.Run("size=4096/errorfs", func(b *testing.B) {
		benchWrite(b, errorfs.Wrap(vfs.NewMem(), errorfs.Never), 4096, false)
	})
}

func benchWrite(b *testing.B, fs vfs.FS, size int, sync bool) {
	buf := make([]byte, size)
	f, err := fs.Create("f")
	if err != nil {
		b.Fatal(err)
	}
	written := 0
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if written >= 64<<20 {
			// Rotate, as a log does with its segments.
			f.Close()
			if err := fs.Remove("f"); err != nil {
				b.Fatal(err)
			}
			if f, err = fs.Create("f"); err != nil {
				b.Fatal(err)
			}
			written = 0
		}
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		written += size
		if sync {
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestMemWriteAllocs checks that writing and syncing into a file whose
// buffer is already large enough allocates nothing, through MemFS and through
// a non-injecting errorfs wrapper.
func TestMemWriteAllocs(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		var fs vfs.FS = vfs.NewMem()
		if wrap {
			fs = errorfs.Wrap(fs, errorfs.Never)
		}
		buf := make([]byte, 64)
		f, err := fs.Create("f")
		ck(t, err)
		_, err = f.Write(make([]byte, 1<<20))
		ck(t, err)
		ck(t, f.Close())
		// Create truncates but keeps the buffer's capacity.
		f, err = fs.Create("f")
		ck(t, err)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("wrap=%v: %v allocs per write+sync, want 0", wrap, allocs)
		}
	}
}
