package page

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// TestShmReaderRefusesDuplicateIDs: a writer never publishes a page ID in
// two slots, so an ids array holding one (a damaged region) is refused
// with ErrBadShared naming the ID, by the index's rebuild (IDs, Read),
// where the reader indexed one of the two slots and read page 1's bytes
// for page 2's, or page 2 vanished. Control: the same region before the
// damage lists both pages. The C and Python readers refuse it alike
// (tests/bindings TestCReaderRefusesDuplicateIDs, python/tests). Before:
// "IDs of a region whose ids array holds page 1 twice: [1], <nil>".
func TestShmReaderRefusesDuplicateIDs(t *testing.T) {
	s, dir := sharedStore(t)
	createFilled(t, s, 1, 100, 0xaa, 1)
	sl2 := createFilled(t, s, 2, 100, 0xbb, 2)
	ctl := publishAndOpen(t, s, dir, 2)
	if ids, err := ctl.IDs(); err != nil || !slices.Equal(ids, []uint64{1, 2}) {
		t.Fatalf("control, before the damage: IDs %v, %v; want [1 2]", ids, err)
	}

	f, err := os.OpenFile(filepath.Join(dir, shmIDs), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var w [8]byte
	binary.LittleEndian.PutUint64(w[:], 1) // page 2's slot now says page 1
	if _, err := f.WriteAt(w[:], int64(sl2)*8); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := OpenShmReader(dir)
	if err != nil {
		t.Fatalf("open: %v (refusing at open is fine too, but say so here)", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	ids, err := r.IDs()
	if !errors.Is(err, ErrBadShared) || !strings.Contains(err.Error(), "page ID 1 ") {
		t.Fatalf("IDs of a region whose ids array holds page 1 twice: %v, %v; want %v naming page ID 1", ids, err, ErrBadShared)
	}
	t.Log(err)
	// A duplicate seen while the table version moved during the scan is
	// a free and a create of one ID racing it, on a healthy region: not
	// refused (a live writer's readers must never see ErrBadShared for
	// it). Control: a duplicateID ignoring the version refused it.
	ver := atomic.LoadUint64(shmWord(r.hdr, hTableVer))
	if err := r.duplicateID(ver-1, 1, 0, 1); err != nil {
		t.Fatalf("page ID 1 in two slots while the table version moved from %d to %d during the scan: %v, want nil (a free and a create raced it)", ver-1, ver, err)
	}
	b, found, err := readCopy(r, 2, 4)
	if !errors.Is(err, ErrBadShared) {
		t.Fatalf("Read page 2 of the damaged region: found %v, % x, %v; want %v", found, b, err, ErrBadShared)
	}
}
