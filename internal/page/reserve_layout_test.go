package page

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestReserveRefusedKeepsLayout: creates made after a refused
// reservation (refused at its last chunk, after it mapped the others)
// lay pages out exactly as they would have without it, so pages created
// in order keep their flat prefix (Stats.DirectPages). The refused
// reservation's chunks were unmapped in the order they were mapped, and
// the chunk-index free list handed them out backwards: "create 0: slot 0
// cell {ref:4096 size:1024} after the refused reservation, slot 0 cell
// {ref:0 size:1024} without".
func TestReserveRefusedKeepsLayout(t *testing.T) {
	cases := append([]struct {
		name  string
		sizes []int
	}{{"1 KiB cells over three chunks", repeatSize(1024, 3*maxCellsPerChunk)}}, reserveBatches...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plain, refused := New(), New()
			t.Cleanup(func() { _ = plain.Close(); _ = refused.Close() })
			first := base.PageID(1)
			if i > 0 { // with history: free cells, a free chunk index
				first = prepareStore(t, plain)
				prepareStore(t, refused)
			}
			sizeOf := func(i int) int { return tc.sizes[i] }
			before := refused.Stats().ArenaBytes
			probe := New()
			if i > 0 {
				prepareStore(t, probe)
			}
			if err := probe.ReserveCreates(len(tc.sizes), sizeOf); err != nil {
				t.Fatal(err)
			}
			need := probe.Stats().ArenaBytes - before
			_ = probe.Close()
			if need == 0 {
				t.Skip("the batch fits in the room the store has")
			}
			refused.SetArenaLimit(before + need - 1) // all but the last chunk
			if err := refused.ReserveCreates(len(tc.sizes), sizeOf); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("reservation past the limit: %v, want ErrNoSpace", err)
			}
			refused.SetArenaLimit(0)
			createAlike(t, plain, refused, first, tc.sizes, "after the refused reservation")
			if p, r := plain.Stats(), refused.Stats(); p.DirectPages != r.DirectPages || p.ArenaBytes != r.ArenaBytes {
				t.Fatalf("after a refused reservation: DirectPages %d, %d bytes mapped; without: %d, %d", r.DirectPages, r.ArenaBytes, p.DirectPages, p.ArenaBytes)
			}
		})
	}
}

// TestReserveCreatesBoundarySizes: pages at the size boundaries (the
// largest page carved from a shared chunk, the smallest with a chunk of
// its own, base.MaxPageSize, the largest class with maxCellsPerChunk
// cells and the smallest with fewer) are reserved for exactly: after the
// reservation the creates map nothing, and lay pages out as creates
// without one.
func TestReserveCreatesBoundarySizes(t *testing.T) {
	perChunk := chunkBytes / 1032 // cells of 1032 bytes in a chunk (fewer than maxCellsPerChunk)
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"largePage", repeatSize(largePage, 5)}, // 4 cells a chunk: two chunks
		{"largePage+1", repeatSize(largePage+1, 2)},
		{"MaxPageSize", []int{base.MaxPageSize, 8, base.MaxPageSize}},
		{"1 KiB cells over a chunk", repeatSize(1024, maxCellsPerChunk+1)},
		{"1032-byte cells over a chunk", repeatSize(1032, perChunk+1)},
		{"mixed", []int{largePage - 8, largePage, largePage + 1, base.MaxPageSize, 1, 8, largePage, largePage + osPageSize}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, reserved := New(), New()
			t.Cleanup(func() { _ = plain.Close(); _ = reserved.Close() })
			first := prepareStore(t, plain)
			prepareStore(t, reserved)
			if err := reserved.ReserveCreates(len(tc.sizes), func(i int) int { return tc.sizes[i] }); err != nil {
				t.Fatal(err)
			}
			mapped := reserved.Stats().ArenaBytes
			reserved.SetArenaLimit(mapped)
			createAlike(t, plain, reserved, first, tc.sizes, "with the reservation")
			if p, r := plain.Stats(), reserved.Stats(); p.ArenaBytes != r.ArenaBytes || r.ArenaBytes != mapped {
				t.Fatalf("reserved store maps %d bytes (%d after the reservation), plain %d", r.ArenaBytes, mapped, p.ArenaBytes)
			}
		})
	}
}

// TestReserveRefusedResetsPending: a reservation refused midway (at a
// large page, after small pages of several classes were counted) leaves
// no class's count of claimed cells behind: the next reservation of the
// room the store has maps nothing, and one more page than the room maps
// exactly one chunk.
func TestReserveRefusedResetsPending(t *testing.T) {
	s := New()
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Create(1, 8, base.LocationCPU); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(2, 16, base.LocationCPU); err != nil {
		t.Fatal(err)
	}
	mapped := s.Stats().ArenaBytes
	s.SetArenaLimit(mapped + 1<<20) // no room for a 3 MiB page
	sizes := []int{8, 16, 8, 16, 3 << 20}
	if err := s.ReserveCreates(len(sizes), func(i int) int { return sizes[i] }); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("reservation past the limit: %v, want ErrNoSpace", err)
	}
	for ci := range s.classes {
		if p := s.classes[ci].pending; p != 0 {
			t.Fatalf("class of %d-byte cells: %d cells still pending after the refused reservation", s.classes[ci].cellSize, p)
		}
	}
	room := s.classes[s.class(8)].room()
	if err := s.ReserveCreates(room, func(int) int { return 8 }); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().ArenaBytes; got != mapped {
		t.Fatalf("a reservation of the %d cells the class has mapped %d bytes", room, got-mapped)
	}
	if err := s.ReserveCreates(room+1, func(int) int { return 8 }); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Stats().ArenaBytes, mapped+int64(roundUp(8*maxCellsPerChunk, osPageSize)); got != want {
		t.Fatalf("a reservation of one cell more than the room: %d bytes mapped, want %d", got, want)
	}
}
