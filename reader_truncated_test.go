package mmsb_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReaderTruncatedChunk: a chunk file truncated under a Reader (by the
// region's owner) made its next read of the chunk fault with SIGBUS,
// killing the process. ReadPage and View, on the lock-free path and on
// the locked one, must fail with ErrSharedCorrupt instead, and ReadPage
// must not return the partial copy that the faulting read left.
// internal/page's TestShmReaderTruncatedFile shows, in a child process,
// that the truncated mapping does fault.
func TestReaderTruncatedChunk(t *testing.T) {
	dir, shm, path := handMadeRegion(t, 0)
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for range 2 { // the first maps the chunk (locked path), the second takes the lock-free one
		if _, _, _, err := rd.ReadPage(1, nil); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := regexp.MustCompile(`^c[0-9]+\.[0-9]+$`)
	n := 0
	for _, e := range ents {
		if chunk.MatchString(e.Name()) {
			if err := os.Truncate(filepath.Join(path, e.Name()), 0); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no chunk file in %s", path)
	}
	data, _, _, err := rd.ReadPage(1, make([]byte, 0, 100))
	if !errors.Is(err, mmsb.ErrSharedCorrupt) || data != nil {
		t.Errorf("ReadPage of a truncated chunk: %d bytes, %v; want ErrSharedCorrupt", len(data), err)
	}
	// View's fn must touch the bytes: a View that does not read them
	// reads nothing that can fault.
	var first byte
	if err := rd.View(1, func(b []byte) error { first = b[0]; return nil }); !errors.Is(err, mmsb.ErrSharedCorrupt) {
		t.Errorf("View of a truncated chunk: %v (read %d); want ErrSharedCorrupt", err, first)
	}
	if _, _, err := rd.Snapshot([]mmsb.PageID{1}); !errors.Is(err, mmsb.ErrSharedCorrupt) {
		t.Errorf("Snapshot of a truncated chunk: %v; want ErrSharedCorrupt", err)
	}
	if ids, err := rd.Pages(); err != nil || len(ids) != 1 {
		t.Errorf("Pages (no chunk read): %v, %v", ids, err)
	}
}
