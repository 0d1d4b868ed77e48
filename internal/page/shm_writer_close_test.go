package page

import (
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestShmWriterCloseKeepsPublishedCounts: a reader that passed its
// caller's state check just before the writer's Close, and then looks up
// a page its index does not hold yet (created since its last rebuild),
// rebuilds its index from the header. Close used to zero the header's
// high-water mark, live count and slot capacity (as Reset does before
// publication), so that rebuild found no page at all: Read said "no such
// page" with no error and IDs returned an empty list, answers a caller
// takes for the bus's state, where it should learn that the writer is
// gone. Close now leaves the published counts alone: the page is found,
// its read is retried (its chunk is released), and the caller's next
// state check reports the closed writer.
func TestShmWriterCloseKeepsPublishedCounts(t *testing.T) {
	s, dir := sharedStore(t)
	if _, err := s.CreateAt(1, 100, base.LocationCPU, 1); err != nil {
		t.Fatal(err)
	}
	r := publishAndOpen(t, s, dir, 1)
	if _, found, _, err := r.Read(1, func([]byte) error { return nil }, 4); err != nil || !found {
		t.Fatalf("before Close: found %v, %v", found, err)
	}
	// Created after the reader built its index: only a rebuild finds it.
	if _, err := s.CreateAt(2, 100, base.LocationCPU, 2); err != nil {
		t.Fatal(err)
	}
	s.PublishLSN(2)
	before, err := r.Header()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.State(); st != ShmClosed {
		t.Fatalf("state %d after the writer's Close", st)
	}
	after, err := r.Header()
	if err != nil {
		t.Fatal(err)
	}
	if after.HW != before.HW || after.Live != before.Live || after.SlotCap != before.SlotCap {
		t.Errorf("writer's Close changed the published counts: high-water %d -> %d, live %d -> %d, slot capacity %d -> %d",
			before.HW, after.HW, before.Live, after.Live, before.SlotCap, after.SlotCap)
	}
	_, found, _, err := r.Read(2, func([]byte) error { return nil }, 4)
	if err == nil && !found {
		t.Errorf("read of page 2 after the writer's Close: no such page, no error; want the retry signal (the caller then sees the writer gone)")
	} else if !IsRetry(err) {
		t.Errorf("read of page 2 after the writer's Close: found %v, %v; want the retry signal", found, err)
	}
	ids, err := r.IDs()
	if err == nil && !slices.Equal(ids, []uint64{1, 2}) {
		t.Errorf("IDs after the writer's Close: %v, <nil>; want [1 2], the region's last pages", ids)
	}
}
