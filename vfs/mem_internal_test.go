package vfs

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMemSizeHintLarge: a hint above 2 GiB (a 4M-page checkpoint is 4 GiB) is
// followed, so that the file does not grow by doubling copies; a nonsense
// hint (the negative control) is not. Capacity is reserved, not touched, so
// the test costs address space only.
func TestMemSizeHintLarge(t *testing.T) {
	for _, tc := range []struct {
		hint   int64
		follow bool
	}{{1<<31 + 4096, 1<<31+4096 <= memoryForHints()}, {1 << 40, false}} {
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

// TestMemSizeHintBeyondMemory: a hint for more than half the machine's
// RAM reserves nothing, and the largest hint MemFS knows (64 GiB) is
// survived. Before, SizeHint(64 GiB) on a 23 GiB machine killed the
// process ("fatal error: runtime: out of memory"); the control here, a
// hint just past the bound, was followed.
func TestMemSizeHintBeyondMemory(t *testing.T) {
	limit := memoryForHints()
	if limit >= maxSizeHint {
		t.Skipf("hints bounded only by maxSizeHint here (%d bytes)", limit)
	}
	for _, hint := range []int64{limit + 4096, maxSizeHint} {
		fs := NewMem()
		f, err := fs.Create("/big")
		if err != nil {
			t.Fatal(err)
		}
		f.(SizeHinter).SizeHint(hint)
		if c := cap(f.(*memFile).n.data); int64(c) >= hint {
			t.Fatalf("hint %d past the bound %d reserved %d bytes", hint, limit, c)
		}
		// Still a working file.
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
}

// TestSizeHintPrefaultKeepsContent: the room a size hint reserves is
// faulted in and read by another goroutine (touchAhead) while the file is being
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

// TestTouchAheadClaimBlocksWrites: a write or truncation reaching bytes
// that touchAhead has claimed (it reads them, unlocked) waits until the
// claim ends, and one that stays clear of the claim does not wait.
func TestTouchAheadClaimBlocksWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    func(f File) error
		waits bool
	}{
		{"append into the claim", func(f File) error { _, err := f.Write(make([]byte, 5000)); return err }, true},
		{"truncate into the claim", func(f File) error { return f.Truncate(6000) }, true},
		{"append below the claim", func(f File) error { _, err := f.Write([]byte("tail")); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewMem()
			f, err := fs.Create("/log")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write([]byte("head")); err != nil {
				t.Fatal(err)
			}
			nd := f.(*memFile).n
			fs.mu.Lock()
			nd.claimLo, nd.claimHi = 4096, 8192
			fs.mu.Unlock()
			done := make(chan error, 1)
			go func() { done <- tc.op(f) }()
			if !tc.waits {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				return
			}
			select {
			case err := <-done:
				t.Fatalf("finished while the range was claimed (err %v)", err)
			case <-time.After(50 * time.Millisecond):
			}
			fs.mu.Lock()
			nd.claimLo, nd.claimHi = 0, 0
			fs.touched.Broadcast()
			fs.mu.Unlock()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if size, _ := f.Size(); size < 5004 {
				t.Fatalf("size %d after the claim ended", size)
			}
		})
	}
}

// TestTouchAheadStops: the toucher started by a size hint reads the room
// ahead (its claims are counted) and ends once the handle that gave the
// hint is closed, leaving no claim behind.
func TestTouchAheadStops(t *testing.T) {
	if !prefaultSupported {
		t.Skip("no touchAhead on this platform")
	}
	fs := NewMem()
	f, err := fs.Create("/log")
	if err != nil {
		t.Fatal(err)
	}
	steps := fs.touchSteps.Load()
	f.(SizeHinter).SizeHint(maxPrefaultHint)
	deadline := time.Now().Add(10 * time.Second)
	for fs.touchSteps.Load() == steps {
		if time.Now().After(deadline) {
			t.Fatal("no claim read ahead in 10 s after the size hint")
		}
		time.Sleep(time.Millisecond)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	atClose := fs.touchSteps.Load()
	for fs.touchers.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d touchers still running 10 s after the hint, the handle closed", fs.touchers.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// The room holds 1,024 claims; one in progress at the close may end.
	if after := fs.touchSteps.Load() - atClose; after > 100 {
		t.Fatalf("%d claims read after the handle was closed", after)
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if nd := f.(*memFile).n; nd.claimHi != 0 {
		t.Fatalf("claim [%d, %d) left behind", nd.claimLo, nd.claimHi)
	}
}

// TestMemFileBoundedByMemory: a MemFS file may not grow past half the
// machine's RAM (memoryForHints; 64 GiB at most): a truncation past it
// fails with EFBIG naming the file, and the file keeps its size and
// bytes. Before, the bound was 64 GiB whatever the RAM, and
// Truncate(32 GiB) on a 23 GiB machine made the slice and the process
// died ("fatal error: out of memory", or the OOM killer while the bytes
// were zeroed). Nothing here allocates what it asks for.
func TestMemFileBoundedByMemory(t *testing.T) {
	limit := memoryForHints()
	for _, size := range []int64{limit + 1, limit + 4096, maxMemFileSize + 1} {
		fs := NewMem()
		f, err := fs.Create("/f")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("kept")); err != nil {
			t.Fatal(err)
		}
		err = f.Truncate(size)
		if !errors.Is(err, syscall.EFBIG) || !strings.Contains(err.Error(), "/f") {
			t.Fatalf("Truncate(%d) with %d bytes of memory for files = %v, want EFBIG naming /f", size, limit, err)
		}
		buf := make([]byte, 8)
		n, _ := f.ReadAt(buf, 0)
		if sz, _ := f.Size(); sz != 4 || string(buf[:n]) != "kept" {
			t.Fatalf("after the refused Truncate(%d): size %d, bytes %q", size, sz, buf[:n])
		}
		_ = f.Close()
	}
}
