package page

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestShmFreeWord: the header's free word holds the LSN of the last free
// applied, set by FreeAt before the slot changes (so a reader that finds
// the page missing sees it) and touched by nothing else: creates and
// page writes leave it, and a region without frees has 0 there. It lies
// past every other header field and inside the header.
func TestShmFreeWord(t *testing.T) {
	if hFreeLSN < hHeaderUsed || hFreeLSN+8 > shmHdrSize || hFreeLSN%8 != 0 {
		t.Fatalf("free word at %d: must be aligned, at or after %d and inside the %d-byte header", hFreeLSN, hHeaderUsed, shmHdrSize)
	}
	s, dir := sharedStore(t)
	for id := uint64(1); id <= 3; id++ {
		if _, err := s.CreateAt(base.PageID(id), 64, 0, id); err != nil {
			t.Fatal(err)
		}
	}
	r := publishAndOpen(t, s, dir, 3)
	steps := []struct {
		name string
		op   func() error
		want uint64
	}{
		{"no free yet", func() error { return nil }, 0},
		{"free page 2 at LSN 4", func() error { return s.FreeAt(2, 4) }, 4},
		{"create page 4 at LSN 5", func() error { _, err := s.CreateAt(4, 64, 0, 5); return err }, 4},
		{"write page 1 at LSN 6", func() error {
			sl, _ := s.Lookup(1)
			s.BeginWrite(sl, 6)
			s.Bytes(sl)[0] = 1
			s.EndWrite(sl, 6)
			return nil
		}, 4},
		{"publish LSN 6", func() error { s.PublishLSN(6); return nil }, 4},
		{"free page 1 at LSN 7", func() error { return s.FreeAt(1, 7) }, 7},
	}
	for _, st := range steps {
		if err := st.op(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := r.FreeLSN(); got != st.want {
			t.Fatalf("%s: free word %d, want %d", st.name, got, st.want)
		}
		if _, err := r.Header(); err != nil {
			t.Fatalf("%s: header with the free word set: %v", st.name, err)
		}
	}
	// The freed page reads as missing, and the free word is above the
	// committed LSN: what Reader.SnapshotInto checks.
	if _, found, _, err := r.Read(1, func([]byte) error { return nil }, 64); err != nil || found {
		t.Fatalf("page 1 freed: found %v, %v", found, err)
	}
	if r.FreeLSN() <= r.LSN() {
		t.Fatalf("free word %d, committed LSN %d: the unpublished free is not visible", r.FreeLSN(), r.LSN())
	}
}
