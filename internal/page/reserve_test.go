package page

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// reserveBatches are create batches (page sizes, in order) for the
// reservation tests: one class filling chunks, classes interleaved, large
// pages of one and of several sizes among small ones.
var reserveBatches = []struct {
	name  string
	sizes []int
}{
	{"one class over three chunks", repeatSize(256, 3*maxCellsPerChunk+5)},
	{"classes interleaved", interleave(repeatSize(8, 5000), repeatSize(1024, 5000))},
	{"large pages", []int{2 << 20, 3 << 20, 2 << 20, 8, 2 << 20}},
	{"one page", []int{100}},
}

func repeatSize(size, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

func interleave(a, b []int) []int {
	var s []int
	for i := range a {
		s = append(s, a[i], b[i])
	}
	return s
}

// prepareStore gives s some history: pages of several sizes, some freed
// (free cells, a free large chunk index, free slots). It returns the next
// free page ID.
func prepareStore(t *testing.T, s *Store) base.PageID {
	t.Helper()
	id := base.PageID(1)
	for _, size := range []int{256, 256, 8, 2 << 20, 1024, 256} {
		if _, err := s.Create(id, size, base.LocationCPU); err != nil {
			t.Fatal(err)
		}
		id++
	}
	for _, free := range []base.PageID{2, 4} {
		if err := s.Free(free); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// createAlike creates pages of sizes, from ID first on, in plain and in
// other, and fails unless each lands in the same slot and cell in both
// (other's condition, e.g. "with the reservation", names it in the
// failure).
func createAlike(t *testing.T, plain, other *Store, first base.PageID, sizes []int, cond string) {
	t.Helper()
	for i, size := range sizes {
		id := first + base.PageID(i)
		psl, err := plain.Create(id, size, base.LocationCPU)
		if err != nil {
			t.Fatal(err)
		}
		osl, err := other.Create(id, size, base.LocationCPU)
		if err != nil {
			t.Fatalf("create %d (%d bytes) %s: %v", i, size, cond, err)
		}
		if psl != osl || plain.cells[psl] != other.cells[osl] {
			t.Fatalf("create %d (%d bytes): slot %d cell %+v %s, slot %d cell %+v without", i, size, osl, other.cells[osl], cond, psl, plain.cells[psl])
		}
	}
}

// TestReserveCreatesHoldsRoom: after ReserveCreates, the creates it
// reserved for succeed with no chunk left to map (the arena limit set to
// what is mapped), and they lay pages out exactly as creates without a
// reservation do (same cells, same mapped bytes), so the reservation
// changes nothing but when the memory is mapped.
func TestReserveCreatesHoldsRoom(t *testing.T) {
	for _, tc := range reserveBatches {
		t.Run(tc.name, func(t *testing.T) {
			plain, reserved := New(), New()
			t.Cleanup(func() { _ = plain.Close(); _ = reserved.Close() })
			first := prepareStore(t, plain)
			prepareStore(t, reserved)
			if err := reserved.ReserveCreates(len(tc.sizes), func(i int) int { return tc.sizes[i] }); err != nil {
				t.Fatal(err)
			}
			reserved.SetArenaLimit(reserved.Stats().ArenaBytes) // nothing more may be mapped
			createAlike(t, plain, reserved, first, tc.sizes, "with the reservation")
			if p, r := plain.Stats(), reserved.Stats(); p.ArenaBytes != r.ArenaBytes || p.Pages != r.Pages {
				t.Fatalf("reserved store maps %d bytes for %d pages, plain %d for %d", r.ArenaBytes, r.Pages, p.ArenaBytes, p.Pages)
			}
			// The room is used up: one more page of a new chunk is refused.
			if _, err := reserved.Create(first+base.PageID(len(tc.sizes)), 3<<20, base.LocationCPU); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("create past the reservation and the limit: %v, want ErrNoSpace", err)
			}
		})
	}
}

// TestReserveCreatesRefusedMapsNothing: a reservation the memory limit
// refuses returns ErrNoSpace and leaves nothing mapped that it mapped (a
// batch that fits only in part takes no room from later creates), and the
// store goes on creating what fits.
func TestReserveCreatesRefusedMapsNothing(t *testing.T) {
	for _, tc := range reserveBatches {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			t.Cleanup(func() { _ = s.Close() })
			next := prepareStore(t, s)
			before := s.Stats()
			// Room for half of what the batch maps.
			probe := New()
			prepareStore(t, probe)
			if err := probe.ReserveCreates(len(tc.sizes), func(i int) int { return tc.sizes[i] }); err != nil {
				t.Fatal(err)
			}
			need := probe.Stats().ArenaBytes - before.ArenaBytes
			_ = probe.Close()
			if need == 0 {
				t.Skip("the batch fits in the room the store has")
			}
			s.SetArenaLimit(before.ArenaBytes + need/2)
			err := s.ReserveCreates(len(tc.sizes), func(i int) int { return tc.sizes[i] })
			if !errors.Is(err, ErrNoSpace) {
				t.Fatalf("reservation of %d bytes with room for half: %v, want ErrNoSpace", need, err)
			}
			if after := s.Stats(); after.ArenaBytes != before.ArenaBytes || after.Pages != before.Pages {
				t.Fatalf("after a refused reservation: %d bytes mapped, %d pages; before %d, %d", after.ArenaBytes, after.Pages, before.ArenaBytes, before.Pages)
			}
			if _, err := s.Create(next, 8, base.LocationCPU); err != nil {
				t.Fatalf("a page that fits, after the refused reservation: %v", err)
			}
		})
	}
}

// TestReleaseReserved: a reservation whose creates are not made is given
// back by ReleaseReserved; spare large chunks are also given back by the
// next reservation that does not claim them.
func TestReleaseReserved(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	prepareStore(t, s)
	before := s.Stats().ArenaBytes
	sizes := []int{3 << 20, 16, 16}
	if err := s.ReserveCreates(len(sizes), func(i int) int { return sizes[i] }); err != nil {
		t.Fatal(err)
	}
	if s.Stats().ArenaBytes == before {
		t.Fatal("the reservation mapped nothing")
	}
	if err := s.ReleaseReserved(); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().ArenaBytes; got != before {
		t.Fatalf("%d bytes mapped after ReleaseReserved, %d before the reservation", got, before)
	}
	if err := s.ReserveCreates(1, func(int) int { return 3 << 20 }); err != nil {
		t.Fatal(err)
	}
	if err := s.ReserveCreates(1, func(int) int { return 256 }); err != nil { // a freed 256-byte cell holds it
		t.Fatal(err)
	}
	if got := s.Stats().ArenaBytes; got != before {
		t.Fatalf("%d bytes mapped after a reservation that claims no large chunk, %d before", got, before)
	}
}

// TestReserveCreatesWithRoomIsCheap: a reservation the store already has
// room for maps nothing and allocates nothing (the bus makes one before
// every create batch).
func TestReserveCreatesWithRoomIsCheap(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	prepareStore(t, s)
	sizes := []int{256, 8, 1024, 256}
	sizeOf := func(i int) int { return sizes[i] }
	if err := s.ReserveCreates(len(sizes), sizeOf); err != nil {
		t.Fatal(err)
	}
	mapped := s.Stats().ArenaBytes
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.ReserveCreates(len(sizes), sizeOf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || s.Stats().ArenaBytes != mapped {
		t.Fatalf("a reservation with room: %v allocations, %d bytes mapped (%d before)", allocs, s.Stats().ArenaBytes, mapped)
	}
}

// TestReserveCreatesSharedSlots: in shared mode the reservation allocates
// the slot arrays' tmpfs space for every never-used slot the creates will
// take, so that the creates reserve nothing themselves.
func TestReserveCreatesSharedSlots(t *testing.T) {
	s, _ := sharedStore(t)
	prepareStore(t, s)
	n := 3 * slotReserveStep
	if err := s.ReserveCreates(n, func(int) int { return 8 }); err != nil {
		t.Fatal(err)
	}
	free := int(s.hw) - s.live
	if want := int(s.hw) + n - free; s.shm.slotsReserved < want || s.slotCap < want {
		t.Fatalf("reserved %d slots (capacity %d) for %d creates, %d slots used, %d free; want %d", s.shm.slotsReserved, s.slotCap, n, s.hw, free, want)
	}
	reserved := s.shm.slotsReserved
	for i := range n {
		if _, err := s.Create(base.PageID(100+i), 8, base.LocationCPU); err != nil {
			t.Fatal(err)
		}
	}
	if s.shm.slotsReserved != reserved {
		t.Fatalf("the creates reserved slots themselves: %d, after the reservation %d", s.shm.slotsReserved, reserved)
	}
}

// TestReserveCreatesBadSize: a size out of range is ErrInvalidSize, not a
// reservation of nothing.
func TestReserveCreatesBadSize(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	for _, size := range []int{0, -1, base.MaxPageSize + 1} {
		if err := s.ReserveCreates(1, func(int) int { return size }); !errors.Is(err, ErrInvalidSize) {
			t.Errorf("size %d: %v, want ErrInvalidSize", size, err)
		}
	}
}

// TestCreateWhenIndexCannotGrow: a create whose ID index window cannot
// grow (its mapping refused; here the region points at a directory that
// does not exist) puts the page in the index's map instead of failing:
// ReserveCreates does not reserve the index, so the create after it must
// not fail for it. It failed "page 1: growing id index: page: out of
// arena space".
func TestCreateWhenIndexCannotGrow(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	s.denseR.shmDir, s.denseR.name = "/nonexistent-mmsb-test-dir", "dense"
	for id := base.PageID(1); id <= 3; id++ {
		sl, err := s.Create(id, 8, base.LocationCPU)
		if err != nil {
			t.Fatalf("create %d without room for the index window: %v", id, err)
		}
		if got, ok := s.Lookup(id); !ok || got != sl {
			t.Fatalf("Lookup(%d) = %d, %v; want %d", id, got, ok, sl)
		}
	}
	if len(s.dense) != 0 || len(s.sparse) != 3 {
		t.Fatalf("index: window of %d, map of %d; want the map to hold all 3", len(s.dense), len(s.sparse))
	}
}
