package page

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestShmLargeFreeIsNotCorrupt: Free of a page larger than 1 MiB
// releases its chunk (chunk-table generation 0, file removed) before it
// moves the slot's sequence word. A reader that reads the page in that
// window must be told to retry, not that the region is corrupt: the
// region is healthy and the read succeeds, or finds no page, once the
// free goes on. The window is reproduced by releasing the chunk as the
// free does and reading before the free finishes.
func TestShmLargeFreeIsNotCorrupt(t *testing.T) {
	s, dir := sharedStore(t)
	const id, size = 7, 2 << 20 // > largePage: a chunk of its own
	sl, err := s.CreateAt(id, size, base.LocationCPU, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := publishAndOpen(t, s, dir, 1)
	read := func() (bool, error) {
		_, found, _, err := r.Read(id, func([]byte) error { return nil }, 4)
		return found, err
	}
	if found, err := read(); err != nil || !found {
		t.Fatalf("before the free: found %v, %v", found, err)
	}

	// What Free does to the shared region before BeginWrite.
	s.shm.releaseSharedChunk(s.cells[sl].ref >> cellBits)
	if _, err := read(); !IsRetry(err) {
		t.Fatalf("read while the page's chunk is being released: %v, want the retry signal", err)
	}
	// The rest of the free: the sequence word moves, the page is gone.
	if err := s.FreeAt(id, 2); err != nil {
		t.Fatal(err)
	}
	if found, err := read(); err != nil || found {
		t.Fatalf("after the free: found %v, %v", found, err)
	}
}

// TestShmClosedWriterIsNotCorrupt: a writer's Close marks the region
// closed and then releases every chunk without moving any sequence word. A
// read that passed its caller's state check just before must be retried
// (the caller then sees the closed state and reports the writer gone), not
// reported as a corrupt region.
func TestShmClosedWriterIsNotCorrupt(t *testing.T) {
	s, dir := sharedStore(t)
	if _, err := s.CreateAt(1, 100, base.LocationCPU, 1); err != nil {
		t.Fatal(err)
	}
	r := publishAndOpen(t, s, dir, 1)
	if _, found, _, err := r.Read(1, func([]byte) error { return nil }, 4); err != nil || !found {
		t.Fatalf("before Close: found %v, %v", found, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.State(); st != ShmClosed {
		t.Fatalf("state %d after the writer's Close", st)
	}
	if _, _, _, err := r.Read(1, func([]byte) error { return nil }, 4); !IsRetry(err) {
		t.Fatalf("read after the writer's Close: %v, want the retry signal", err)
	}
}

// TestShmFIFORefused: a FIFO in place of a region file (planted by
// whoever can write the region directory, or pre-created under the
// predictable region name in the world-writable /dev/shm) is refused with
// ErrBadShared. Opening it for reading used to block until some process
// opened its other end: OpenShmReader (and OpenReader) hung. If the open
// blocks, the test opens the other end itself so that it can fail instead
// of hanging.
func TestShmFIFORefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, ShmHeaderFile)
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		testutil.Missing(t, "mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := OpenShmReader(dir)
		if err == nil {
			_ = r.Close()
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second): // a hang guard, not a timing check
		w, oerr := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0)
		if oerr == nil {
			defer w.Close()
		}
		<-done
		t.Fatal("OpenShmReader blocked opening a FIFO header")
	}
	if !errors.Is(err, ErrBadShared) {
		t.Fatalf("FIFO header: %v, want ErrBadShared", err)
	}
}
