package checkpoint

import (
	"bytes"
	"errors"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/mmsb-go/mmsb/internal/testutil"

	"github.com/mmsb-go/mmsb/vfs"
)

// directFS hands out files that play a filesystem able to write directly:
// while direct is on, every write must be aligned as O_DIRECT demands
// (address, length and file offset multiples of vfs.DirectAlign), else it
// fails with EINVAL as the kernel would. refuse makes every direct write
// fail with EINVAL (a filesystem that takes O_DIRECT and then refuses).
type directFS struct {
	vfs.FS
	refuse bool
	failAt int
	f      *directFile
}

func (d *directFS) Create(name string) (vfs.File, error) {
	f, err := d.FS.Create(name)
	if err != nil {
		return nil, err
	}
	d.f = &directFile{writebackFile: writebackFile{File: f}, refuse: d.refuse, failAt: d.failAt}
	return d.f, nil
}

type directFile struct {
	writebackFile
	refuse             bool
	direct             bool
	directWrites       int // whole buffers written directly
	cachedWrites       int // writes through the (pretend) page cache
	misaligned, toggle int
	failAt             int // see failing
}

func (f *directFile) SetDirect(on bool) error {
	if on != f.direct {
		f.toggle++
	}
	f.direct = on
	return nil
}

func (f *directFile) Write(p []byte) (int, error) {
	if f.direct {
		addr := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		if f.refuse || addr%vfs.DirectAlign != 0 || len(p)%vfs.DirectAlign != 0 || f.written%vfs.DirectAlign != 0 {
			if !f.refuse {
				f.misaligned++
			}
			return 0, &fsError{syscall.EINVAL}
		}
		if f.failing() {
			return 0, &fsError{syscall.EIO}
		}
		f.directWrites++
	} else {
		f.cachedWrites++
	}
	return f.writebackFile.Write(p)
}

// failing reports whether the next direct write is the failAt-th
// (1-based), which then fails with EIO and nothing written (failAt 0:
// never).
func (f *directFile) failing() bool { return f.failAt > 0 && f.directWrites+1 == f.failAt }

type fsError struct{ errno syscall.Errno }

func (e *fsError) Error() string { return "write: " + e.errno.Error() }
func (e *fsError) Unwrap() error { return e.errno }

// TestDirectWrites: where the file can write directly, every whole buffer
// goes directly, aligned as O_DIRECT requires, only the last partial
// buffer goes through the page cache, no writeback calls are made (nothing
// is dirty), and the checkpoint reads back intact.
func TestDirectWrites(t *testing.T) {
	big := make([]record, 7) // records larger than the buffer: each spans two or three writes
	for i := range big {
		p := make([]byte, 300<<10+i*4099)
		for j := range p {
			p[j] = byte(i + j*31)
		}
		big[i] = record{kind: uint8(i % 5), payload: p}
	}
	cases := map[string][]record{"0": sampleRecords(0), "10": sampleRecords(10), "20000": sampleRecords(20000),
		"60000": sampleRecords(60000), "big": big}
	for _, name := range []string{"0", "10", "20000", "60000", "big"} {
		t.Run(name, func(t *testing.T) {
			fs := &directFS{FS: vfs.NewMem()}
			want := cases[name]
			path := writeCheckpoint(t, fs, "/ck", 9, want)
			f := fs.f
			if f.misaligned != 0 {
				t.Fatalf("%d direct writes were misaligned", f.misaligned)
			}
			if wantDirect := int(f.written / bufferSize); f.directWrites != wantDirect || f.cachedWrites != 1 {
				t.Fatalf("%d bytes: %d direct and %d cached writes, want %d and 1", f.written, f.directWrites, f.cachedWrites, wantDirect)
			}
			if f.direct || f.toggle != 2 {
				t.Fatalf("direct left %v after %d toggles: want turned on, then off for the tail", f.direct, f.toggle)
			}
			if len(f.started) != 0 || len(f.waits) != 0 {
				t.Fatalf("%d writebacks started for direct writes", len(f.started))
			}
			// Checkpoint bytes are deterministic: the same as a checkpoint
			// of the same records written through a plain file.
			plain := vfs.NewMem()
			plainPath := writeCheckpoint(t, plain, "/ck", 9, want)
			if a, b := testutil.ReadFile(t, fs, path), testutil.ReadFile(t, plain, plainPath); !bytes.Equal(a, b) {
				t.Fatalf("direct checkpoint (%d bytes) differs from the plain one (%d bytes)", len(a), len(b))
			}
			_, got, err := readCheckpoint(fs, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records back, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].kind != want[i].kind || !bytes.Equal(got[i].payload, want[i].payload) {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

// TestDirectRefusedFallsBack: a filesystem that takes O_DIRECT and then
// refuses the write (EINVAL, nothing written) gets the same bytes through
// the page cache, with bounded writeback, and the checkpoint is intact.
func TestDirectRefusedFallsBack(t *testing.T) {
	fs := &directFS{FS: vfs.NewMem(), refuse: true}
	want := sampleRecords(60000)
	path := writeCheckpoint(t, fs, "/ck", 9, want)
	f := fs.f
	if f.directWrites != 0 || f.cachedWrites < 5 {
		t.Fatalf("%d direct and %d cached writes, want 0 and every buffer", f.directWrites, f.cachedWrites)
	}
	if len(f.started) < 4 {
		t.Fatalf("%d writebacks started after falling back, want one per range", len(f.started))
	}
	_, got, err := readCheckpoint(fs, path)
	if err != nil || len(got) != len(want) {
		t.Fatalf("read back %d of %d records: %v", len(got), len(want), err)
	}
}

// TestDirectWriteFailureLeavesNothing: a direct write that fails (EIO, not
// the EINVAL that falls back) fails the checkpoint with an error naming
// the file and wrapping the cause, and leaves no file behind, final or
// temporary; the writer stays failed.
func TestDirectWriteFailureLeavesNothing(t *testing.T) {
	for _, at := range []int{1, 3} {
		fs := &directFS{FS: vfs.NewMem(), failAt: at}
		w, err := Create(fs, "/ck", 9)
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for _, r := range sampleRecords(30000) {
			if werr = w.Append(r.kind, r.payload); werr != nil {
				break
			}
		}
		if werr == nil {
			_, werr = w.Commit()
		}
		if !errors.Is(werr, syscall.EIO) || !strings.Contains(werr.Error(), "checkpoint: write /ck/") {
			t.Fatalf("direct write %d failing: %v, want a write error naming the file and wrapping EIO", at, werr)
		}
		if names, _ := fs.List("/ck"); len(names) != 0 {
			t.Fatalf("direct write %d failing left %v", at, names)
		}
		if _, err := w.Commit(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("Commit after the failure: %v", err)
		}
	}
}
