package page

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestShmReaderRegionBeingRemoved: a writer marks its region closed
// (Close) or superseded (a newer writer took over) and then removes its
// files. A reader that opened it in between found the slot arrays gone
// and answered ErrBadShared ("hold 0 slots"), which callers that reopen
// on ErrWriterGone or ErrStale do not retry (the chunk table gone was
// os.ErrNotExist, whatever the state). The header's state now decides:
// ErrWriterGone when closed, ErrStale when superseded. A live header over
// missing slot arrays stays ErrBadShared (control). The C and Python
// readers answer the same (TestCReaderShortFiles,
// test_region_being_removed_is_not_corrupt).
func TestShmReaderRegionBeingRemoved(t *testing.T) {
	s, dir := sharedStore(t)
	createFilled(t, s, 1, 100, 7, 1)
	if err := s.Publish(dir, 1); err != nil {
		t.Fatal(err)
	}
	slotArrays := []string{shmIDs, shmVers, shmCells, shmSeq}
	for _, tc := range []struct {
		name   string
		state  uint64
		remove []string
		want   error
	}{
		{"closed", ShmClosed, slotArrays, ErrWriterGone},
		{"superseded", ShmSuperseded, slotArrays, ErrStale},
		{"closed, no chunk table", ShmClosed, []string{shmChunkTab}, ErrWriterGone},
		{"superseded, no chunk table", ShmSuperseded, []string{shmChunkTab}, ErrStale},
		{"live (control)", ShmLive, slotArrays, ErrBadShared},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := filepath.Join(filepath.Dir(dir), "copy-"+filepath.Base(t.Name()))
			if err := os.Mkdir(cp, 0o700); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() == ShmHeaderFile {
					binary.LittleEndian.PutUint64(b[hState:], tc.state)
				}
				if err := os.WriteFile(filepath.Join(cp, e.Name()), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tc.remove {
				if err := os.Remove(filepath.Join(cp, name)); err != nil {
					t.Fatal(err)
				}
			}
			r, err := OpenShmReader(cp)
			if err == nil {
				_ = r.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("open of a region in state %d without %v: %v, want %v", tc.state, tc.remove, err, tc.want)
			}
		})
	}
}
