package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s := New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCreate(t testing.TB, s *Store, id base.PageID, size int) Slot {
	t.Helper()
	sl, err := s.Create(id, size, base.LocationCPU)
	if err != nil {
		t.Fatalf("Create(%d, %d): %v", id, size, err)
	}
	return sl
}

func TestCreateLookupAccessors(t *testing.T) {
	tests := []struct {
		name string
		id   base.PageID
		size int
	}{
		{"tiny", 1, 1},
		{"odd", 2, 13},
		{"kib", 3, 1024},
		{"class-boundary", 4, 1 << 20},
		{"large", 5, 1<<20 + 1},
		{"max", 6, base.MaxPageSize},
		{"sparse-id", 1 << 62, 100},
		{"max-id", ^base.PageID(0), 8},
	}
	s := newStore(t)
	slots := map[base.PageID]Slot{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sl := mustCreate(t, s, tc.id, tc.size)
			slots[tc.id] = sl
			got, ok := s.Lookup(tc.id)
			if !ok || got != sl {
				t.Fatalf("Lookup(%d) = %d, %v; want %d, true", tc.id, got, ok, sl)
			}
			if s.ID(sl) != tc.id || s.Size(sl) != tc.size || s.Epoch(sl) != 0 || s.LastLSN(sl) != 0 ||
				s.Location(sl) != base.LocationCPU || s.Meta(sl) != nil {
				t.Fatalf("fresh page: id %d size %d epoch %d lsn %d loc %v meta %v",
					s.ID(sl), s.Size(sl), s.Epoch(sl), s.LastLSN(sl), s.Location(sl), s.Meta(sl))
			}
			b := s.Bytes(sl)
			if len(b) != tc.size || cap(b) != tc.size {
				t.Fatalf("Bytes: len %d cap %d, want %d", len(b), cap(b), tc.size)
			}
			if i := slices.IndexFunc(b, func(c byte) bool { return c != 0 }); i >= 0 {
				t.Fatalf("fresh page byte %d = %d, want zero-filled", i, b[i])
			}
			for i := range b {
				b[i] = byte(tc.id) + byte(i)
			}
			s.SetEpoch(sl, 7)
			s.SetLastLSN(sl, 99)
			if s.Epoch(sl) != 7 || s.LastLSN(sl) != 99 {
				t.Fatalf("epoch/lsn not stored")
			}
		})
	}
	// Writes to one page never leak into another.
	for _, tc := range tests {
		b := s.Bytes(slots[tc.id])
		for i := range b {
			if b[i] != byte(tc.id)+byte(i) {
				t.Fatalf("page %d byte %d = %d, corrupted by a neighbour", tc.id, i, b[i])
			}
		}
	}
	if s.Len() != len(tests) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(tests))
	}
	for _, id := range []base.PageID{0, 7, 1<<62 + 1, 1 << 40} {
		if sl, ok := s.Lookup(id); ok {
			t.Fatalf("Lookup(%d) found slot %d for a page never created", id, sl)
		}
	}
}

func TestCreateFreeErrors(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, 10, 64)
	tests := []struct {
		name    string
		id      base.PageID
		size    int
		loc     base.Location
		want    error
		wantMsg string
	}{
		{"id-zero", 0, 64, base.LocationCPU, ErrInvalidID, "page id 0"},
		{"size-zero", 11, 0, base.LocationCPU, ErrInvalidSize, "page 11: size 0"},
		{"size-negative", 11, -5, base.LocationCPU, ErrInvalidSize, "size -5"},
		{"size-too-big", 11, base.MaxPageSize + 1, base.LocationCPU, ErrInvalidSize, "page 11"},
		{"gpu", 11, 64, base.LocationGPU, ErrInvalidLocation, "no device backend exists"},
		{"unified", 11, 64, base.LocationUnified, ErrInvalidLocation, "no device backend exists"},
		{"unknown-loc", 11, 64, base.Location(9), ErrInvalidLocation, "unknown location 9"},
		{"duplicate", 10, 64, base.LocationCPU, ErrExists, "page 10"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sl, err := s.Create(tc.id, tc.size, tc.loc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create = %d, %v; want %v", sl, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
	if s.Len() != 1 {
		t.Fatalf("failed creates changed the store: Len = %d", s.Len())
	}
	for _, id := range []base.PageID{0, 11, 1 << 50} {
		if err := s.Free(id); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), fmt.Sprint(id)) {
			t.Fatalf("Free(%d) = %v, want ErrNotFound naming the id", id, err)
		}
	}
	if err := s.Free(10); err != nil {
		t.Fatal(err)
	}
	if err := s.Free(10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("double Free = %v, want ErrNotFound", err)
	}
}

func TestFreeReusesZeroedCellsAndSlots(t *testing.T) {
	for _, size := range []int{1, 100, 1024, 3 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			s := newStore(t)
			a := mustCreate(t, s, 1, size)
			keep := mustCreate(t, s, 2, size)
			for i := range s.Bytes(keep) {
				s.Bytes(keep)[i] = 0xAB
			}
			b := s.Bytes(a)
			for i := range b {
				b[i] = 0xFF
			}
			s.SetEpoch(a, 5)
			s.SetLastLSN(a, 6)
			if err := s.Free(1); err != nil {
				t.Fatal(err)
			}
			c := mustCreate(t, s, 3, size)
			if c != a {
				t.Fatalf("freed slot %d not reused (got %d)", a, c)
			}
			if s.ID(c) != 3 || s.Epoch(c) != 0 || s.LastLSN(c) != 0 {
				t.Fatalf("reused slot kept old state: id %d epoch %d lsn %d", s.ID(c), s.Epoch(c), s.LastLSN(c))
			}
			if !bytes.Equal(s.Bytes(c), make([]byte, size)) {
				t.Fatalf("reused cell is not zero-filled")
			}
			if !bytes.Equal(s.Bytes(keep), bytes.Repeat([]byte{0xAB}, size)) {
				t.Fatalf("Free/Create touched a neighbouring page")
			}
		})
	}
}

func TestLargePageUnmappedOnFree(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, 1, 2<<20)
	before := s.Stats().ArenaBytes
	if before < 2<<20 {
		t.Fatalf("ArenaBytes = %d after a 2 MiB page", before)
	}
	if err := s.Free(1); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().ArenaBytes; got != 0 {
		t.Fatalf("ArenaBytes = %d after freeing the only (large) page, want 0", got)
	}
}

func TestSizeClassesAreExact(t *testing.T) {
	s := newStore(t)
	for i := range 4096 {
		mustCreate(t, s, base.PageID(i+1), 1024)
	}
	st := s.Stats()
	if st.ArenaBytes != 4096*1024 || st.ArenaFree != 0 || st.LogicalBytes != 4096*1024 {
		t.Fatalf("4096 1-KiB pages: %+v; want exactly 4 MiB mapped, none free", st)
	}
}

func TestAllocFreeBurstsBounded(t *testing.T) {
	s := newStore(t)
	const n = 5000
	sizes := []int{24, 1024, 4000, 70000}
	var first Stats
	for round := range 20 {
		for i := range n {
			mustCreate(t, s, base.PageID(round*n+i+1), sizes[i%len(sizes)])
		}
		for i := range n {
			if err := s.Free(base.PageID(round*n + i + 1)); err != nil {
				t.Fatal(err)
			}
		}
		st := s.Stats()
		if round == 0 {
			first = st
			continue
		}
		if st.ArenaBytes != first.ArenaBytes {
			t.Fatalf("round %d: ArenaBytes %d, after round 0 %d: freed cells not reused", round, st.ArenaBytes, first.ArenaBytes)
		}
		if st.Pages != 0 || st.LogicalBytes != 0 || st.ArenaFree != st.ArenaBytes {
			t.Fatalf("round %d: %+v after freeing everything", round, st)
		}
		if int(s.hw) != n {
			t.Fatalf("round %d: slot high-water %d, want %d (slots not reused)", round, s.hw, n)
		}
	}
}

func TestIDIndexDenseAndSparse(t *testing.T) {
	s := newStore(t)
	// Descending dense IDs start in the sparse map and migrate into the
	// dense index once enough pages exist; sparse huge IDs stay in the map.
	var want []base.PageID
	for id := base.PageID(300000); id >= 1; id -= 3 {
		mustCreate(t, s, id, 8)
		want = append(want, id)
	}
	huge := []base.PageID{1 << 63, 1 << 40, 5 << 50, ^base.PageID(0)}
	for _, id := range huge {
		mustCreate(t, s, id, 8)
		want = append(want, id)
	}
	slices.Sort(want)
	for _, id := range want {
		sl, ok := s.Lookup(id)
		if !ok || s.ID(sl) != id {
			t.Fatalf("Lookup(%d) = %d, %v", id, sl, ok)
		}
	}
	if len(s.sparse) != len(huge) {
		t.Fatalf("%d IDs left in the sparse map, want only the %d huge ones", len(s.sparse), len(huge))
	}
	for pid := range s.sparse {
		if pid < base.PageID(len(s.dense)) {
			t.Fatalf("sparse id %d below dense bound %d", pid, len(s.dense))
		}
	}
	if got := s.AppendIDs(nil); !slices.Equal(got, want) {
		t.Fatalf("AppendIDs not the ascending live IDs (len %d vs %d)", len(got), len(want))
	}
	var walked []base.PageID
	s.ForEach(func(sl Slot) bool { walked = append(walked, s.ID(sl)); return true })
	if !slices.Equal(walked, want) {
		t.Fatalf("ForEach order differs from ascending IDs")
	}
	// Early stop, in both the dense and the sparse part.
	for _, stop := range []int{1, len(want) - 2} {
		n := 0
		s.ForEach(func(Slot) bool { n++; return n < stop })
		if n != stop {
			t.Fatalf("ForEach visited %d after fn returned false at %d", n, stop)
		}
	}
	prefix := []base.PageID{42}
	if got := s.AppendIDs(prefix); got[0] != 42 || len(got) != len(want)+1 {
		t.Fatalf("AppendIDs did not append to dst")
	}
}

// TestLookupInOrderPrefix checks the prefix of pages Lookup answers
// without the index (pages 1..ident at slots 0..ident-1): it grows with
// the next page created in the slot after it, shrinks below a freed page,
// and ignores pages created out of order. With the dense window cleared,
// only the prefix can answer, which shows that it does.
func TestLookupInOrderPrefix(t *testing.T) {
	s := newStore(t)
	for id := base.PageID(1); id <= 100; id++ {
		mustCreate(t, s, id, 64)
	}
	if s.ident != 100 {
		t.Fatalf("prefix %d after creating pages 1..100 in order, want 100", s.ident)
	}
	window := slices.Clone(s.dense)
	clear(s.dense)
	for id := base.PageID(1); id <= 100; id++ {
		if sl, ok := s.Lookup(id); !ok || sl != Slot(id-1) {
			t.Fatalf("Lookup(%d) = %d, %v without the index, want slot %d", id, sl, ok, id-1)
		}
	}
	if _, ok := s.Lookup(101); ok {
		t.Fatal("Lookup(101) found a page that does not exist")
	}
	copy(s.dense, window)

	if err := s.Free(40); err != nil {
		t.Fatal(err)
	}
	if s.ident != 39 {
		t.Fatalf("prefix %d after freeing page 40, want 39", s.ident)
	}
	if _, ok := s.Lookup(40); ok {
		t.Fatal("Lookup(40) found the freed page")
	}
	// Page 40 again: it takes the slot page 40 left (39), which extends
	// the prefix by one; the index answers for pages 41..100.
	if sl := mustCreate(t, s, 40, 64); sl != 39 {
		t.Fatalf("page 40 re-created in slot %d, want the freed slot 39", sl)
	}
	if s.ident != 40 {
		t.Fatalf("prefix %d after re-creating page 40 in slot 39, want 40", s.ident)
	}
	for id := base.PageID(1); id <= 100; id++ {
		if sl, ok := s.Lookup(id); !ok || s.ID(sl) != id {
			t.Fatalf("Lookup(%d) = %d, %v (ID %d)", id, sl, ok, s.ID(sl))
		}
	}
	// Out of order: page 1 freed and page 102 created; nothing joins the
	// prefix, which is now empty.
	if err := s.Free(1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, 102, 64)
	if s.ident != 0 {
		t.Fatalf("prefix %d after freeing page 1, want 0", s.ident)
	}
	if _, ok := s.Lookup(1); ok {
		t.Fatal("Lookup(1) found the freed page")
	}
	if _, ok := s.Lookup(0); ok {
		t.Fatal("Lookup(0) found a page")
	}
}

// TestFlatCellPrefix checks the prefix of slots whose cells are computed
// rather than loaded (slots 0..flat-1 at cells flatRef+slot, one size):
// it grows with same-size pages created into the next fresh cell, across a
// chunk boundary, shrinks below a freed slot, and stops at a page of
// another size. With the stored cells scrambled, only the computed ones
// can give the right bytes, which shows that Bytes and Size use them.
func TestFlatCellPrefix(t *testing.T) {
	s := newStore(t)
	const n = maxCellsPerChunk + 100 // 1 KiB cells: a chunk holds 4096
	for id := base.PageID(1); id <= n; id++ {
		sl := mustCreate(t, s, id, 1024)
		binary.LittleEndian.PutUint32(s.Bytes(sl), uint32(id))
	}
	if s.flat != n {
		t.Fatalf("flat prefix %d after %d pages of 1 KiB, want %d", s.flat, n, n)
	}
	computed := make([]slotCell, n)
	for i := range computed {
		computed[i] = s.cell(Slot(i))
	}
	stored := slices.Clone(s.cells[:n])
	for i := range stored {
		s.cells[i] = slotCell{ref: 1, size: 3}
	}
	for sl := Slot(0); sl < n; sl++ {
		if got := binary.LittleEndian.Uint32(s.Bytes(sl)); got != uint32(sl)+1 || s.Size(sl) != 1024 {
			t.Fatalf("slot %d reads page %d, size %d, with its stored cell scrambled; want page %d, 1024", sl, got, s.Size(sl), sl+1)
		}
	}
	copy(s.cells, stored)

	if err := s.Free(40); err != nil {
		t.Fatal(err)
	}
	if s.flat != 39 {
		t.Fatalf("flat prefix %d after freeing the page in slot 39, want 39", s.flat)
	}
	// Page 40 again: slot 39 and its cell come back (both lists are LIFO),
	// so the prefix grows by one; it does not reach past it on its own.
	if sl := mustCreate(t, s, 40, 1024); sl != 39 || s.flat != 40 {
		t.Fatalf("page 40 re-created in slot %d, flat prefix %d; want slot 39, prefix 40", sl, s.flat)
	}
	// The cut wrote nothing past slot 39: those cells are still computed
	// (private mode stores none for pages created into the prefix), and
	// the same as before the cut.
	for sl := Slot(0); sl < n; sl++ {
		if c := s.cell(sl); c != computed[sl] || (sl != 39 && s.cells[sl] != slotCell{}) {
			t.Fatalf("slot %d: cell %+v, stored %+v, computed before the cut %+v", sl, c, s.cells[sl], computed[sl])
		}
	}
	// A page of another size after a full prefix does not join it.
	s2 := newStore(t)
	for id := base.PageID(1); id <= 10; id++ {
		mustCreate(t, s2, id, 64)
	}
	mustCreate(t, s2, 11, 72)
	mustCreate(t, s2, 12, 64)
	if s2.flat != 10 {
		t.Fatalf("flat prefix %d after ten 64-byte pages, one of 72 and one of 64, want 10", s2.flat)
	}

	// A prefix cut to nothing keeps its layout: the slots it cut off
	// still compute their cells from it. Page 1 freed (slot 0), then a
	// page of another size takes slot 0 again. Before, the empty prefix
	// took the new page's layout, and pages 2..10 read 72-byte cells of
	// other pages.
	s3 := newStore(t)
	for id := base.PageID(1); id <= 10; id++ {
		binary.LittleEndian.PutUint32(s3.Bytes(mustCreate(t, s3, id, 64)), uint32(id))
	}
	if err := s3.Free(1); err != nil {
		t.Fatal(err)
	}
	if sl := mustCreate(t, s3, 1, 72); sl != 0 || s3.flat != 0 {
		t.Fatalf("a 72-byte page 1 re-created in slot %d with flat prefix %d, want slot 0 and no prefix", sl, s3.flat)
	}
	for id := base.PageID(2); id <= 10; id++ {
		sl, ok := s3.Lookup(id)
		if !ok || s3.Size(sl) != 64 || binary.LittleEndian.Uint32(s3.Bytes(sl)) != uint32(id) {
			t.Fatalf("page %d after its prefix was cut to nothing and slot 0 reused: size %d, reads page %d", id, s3.Size(sl), binary.LittleEndian.Uint32(s3.Bytes(sl)))
		}
	}
}

// TestFlatCellPrefixSizes: the flat prefix runs on across chunk
// boundaries where a chunk holds 4,096 cells (cells of 1 KiB or less:
// references are then consecutive numbers, chunk<<12|cell), and stops at
// the first boundary elsewhere (4 KiB cells: 1,024 to a chunk; 3,000-byte
// cells: 1,398; pages over 1 MiB: one per mapping). A formula for those
// classes measured +16 % for 1M pages of 4 KiB but cost Bytes its
// inlining (docs/page.md). Every page is read back through its computed
// cell with the stored cells scrambled.
func TestFlatCellPrefixSizes(t *testing.T) {
	for _, tc := range []struct {
		size, pages, want int
	}{
		{1024, 2*maxCellsPerChunk + 7, 2*maxCellsPerChunk + 7},
		{4096, 2*1024 + 7, 1024},
		{3000, 1500, chunkBytes / 3000},
		{2 << 20, 5, 1},
	} {
		s := newStore(t)
		for id := base.PageID(1); id <= base.PageID(tc.pages); id++ {
			sl := mustCreate(t, s, id, tc.size)
			binary.LittleEndian.PutUint32(s.Bytes(sl), uint32(id))
		}
		if int(s.flat) != tc.want {
			t.Fatalf("%d-byte pages: flat prefix %d after %d pages, want %d", tc.size, s.flat, tc.pages, tc.want)
		}
		stored := slices.Clone(s.cells[:tc.pages])
		for i := range tc.want {
			s.cells[i] = slotCell{ref: 1, size: 3}
		}
		for sl := Slot(0); sl < Slot(tc.pages); sl++ {
			if got := binary.LittleEndian.Uint32(s.Bytes(sl)); got != uint32(sl)+1 || s.Size(sl) != tc.size {
				t.Fatalf("%d-byte pages: slot %d reads page %d, size %d; want page %d", tc.size, sl, got, s.Size(sl), sl+1)
			}
		}
		copy(s.cells, stored)
	}
}

func TestResetAndReuse(t *testing.T) {
	s := newStore(t)
	for i := range 100 {
		sl := mustCreate(t, s, base.PageID(i+1), 3000)
		s.Bytes(sl)[0] = 1
		if err := s.SetMeta(sl, []MetaEntry{{"k", []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, 1<<60, 5<<20)
	s.Reset()
	if st := s.Stats(); st != (Stats{}) {
		t.Fatalf("Stats after Reset = %+v, want zero", st)
	}
	if _, ok := s.Lookup(1); ok {
		t.Fatal("page survived Reset")
	}
	sl := mustCreate(t, s, 1, 3000)
	if s.Bytes(sl)[0] != 0 || s.Meta(sl) != nil {
		t.Fatal("page created after Reset is not fresh")
	}
}

func TestNoAllocsOnHotPath(t *testing.T) {
	s := newStore(t)
	dense := mustCreate(t, s, 5, 1024)
	mustCreate(t, s, 1<<60, 64)
	var sink int
	for name, fn := range map[string]func(){
		"Lookup-dense":  func() { sl, _ := s.Lookup(5); sink += int(sl) },
		"Lookup-sparse": func() { sl, _ := s.Lookup(1 << 60); sink += int(sl) },
		"Lookup-miss":   func() { _, ok := s.Lookup(1 << 61); sink += b2i(ok) },
		"Bytes":         func() { sink += len(s.Bytes(dense)) },
		"Epoch":         func() { s.SetEpoch(dense, s.Epoch(dense)+1) },
		"LastLSN":       func() { s.SetLastLSN(dense, s.LastLSN(dense)+1) },
		"ID/Size":       func() { sink += int(s.ID(dense)) + s.Size(dense) },
	} {
		if a := testing.AllocsPerRun(1000, fn); a != 0 {
			t.Errorf("%s allocates %.1f times per call", name, a)
		}
	}
	_ = sink
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestDenseWindowSlides checks the churn pattern (new pages get ever larger
// IDs while old ones are freed): the window follows the live range, so
// lookups stay on the array path and the index stays proportional to the
// live pages rather than to the largest ID.
func TestDenseWindowSlides(t *testing.T) {
	s := newStore(t)
	const live = 2000
	for i := range live {
		mustCreate(t, s, base.PageID(i+1), 16)
	}
	for i := range 500_000 {
		if err := s.Free(base.PageID(i + 1)); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, base.PageID(i+1+live), 16)
	}
	if len(s.sparse) != 0 {
		t.Fatalf("%d IDs fell back to the map under churn", len(s.sparse))
	}
	if max := denseFactor*(live+1) + denseSlack; len(s.dense) > 2*max {
		t.Fatalf("window has %d entries for %d live pages", len(s.dense), live)
	}
	ids := s.AppendIDs(nil)
	if len(ids) != live || ids[0] != 500_001 || ids[live-1] != 500_000+live {
		t.Fatalf("live IDs %d..%d (%d), want 500001..%d", ids[0], ids[len(ids)-1], len(ids), 500_000+live)
	}
}

// TestDenseWindowMovesBack checks that a first, huge ID does not condemn
// the ordinary small IDs that follow to the map path.
func TestDenseWindowMovesBack(t *testing.T) {
	s := newStore(t)
	mustCreate(t, s, 1<<50, 8)
	for i := range 1000 {
		mustCreate(t, s, base.PageID(i+1), 8)
	}
	if s.denseBase != 0 || len(s.sparse) != 1 {
		t.Fatalf("window base %d, %d sparse IDs; want base 0 and only the huge ID in the map", s.denseBase, len(s.sparse))
	}
	want := []base.PageID{}
	for i := range 1000 {
		want = append(want, base.PageID(i+1))
	}
	want = append(want, 1<<50)
	if got := s.AppendIDs(nil); !slices.Equal(got, want) {
		t.Fatalf("AppendIDs wrong after the window moved")
	}
	for _, id := range want {
		if sl, ok := s.Lookup(id); !ok || s.ID(sl) != id {
			t.Fatalf("Lookup(%d) = %d, %v", id, sl, ok)
		}
	}
}

// TestAppendIDsFrom: pieces of AppendIDsFrom, each from the ID after the
// last one of the piece before, put together are AppendIDs, with dense
// and sparse IDs mixed, freed pages, and starts below, inside and above
// the dense window; every piece is the ascending IDs >= from, at most n.
func TestAppendIDsFrom(t *testing.T) {
	s := newStore(t)
	for id := base.PageID(300000); id >= 1; id -= 3 {
		mustCreate(t, s, id, 8)
	}
	for _, id := range []base.PageID{1 << 63, 1 << 40, 5 << 50, ^base.PageID(0), 400001} {
		mustCreate(t, s, id, 8)
	}
	for id := base.PageID(30000); id < 60000; id += 3 {
		if err := s.Free(id); err != nil {
			t.Fatal(err)
		}
	}
	all := s.AppendIDs(nil)
	for _, n := range []int{1, 7, 1000, len(all) + 5} {
		var walked []base.PageID
		for from := base.PageID(0); ; {
			piece := s.AppendIDsFrom(nil, from, n)
			if len(piece) > n {
				t.Fatalf("n=%d from %d: %d IDs", n, from, len(piece))
			}
			walked = append(walked, piece...)
			if len(piece) < n || piece[len(piece)-1] == ^base.PageID(0) {
				break
			}
			from = piece[len(piece)-1] + 1
		}
		if !slices.Equal(walked, all) {
			t.Fatalf("n=%d: pieces put together hold %d IDs, AppendIDs %d (or the order differs)", n, len(walked), len(all))
		}
	}
	for _, from := range []base.PageID{0, 1, 2, 30001, 59999, 299998, 300001, 400001, 1 << 40, ^base.PageID(0)} {
		i, _ := slices.BinarySearch(all, from)
		want := all[i:min(i+50, len(all))]
		if got := s.AppendIDsFrom([]base.PageID{9}, from, 50); !slices.Equal(got[1:], want) || got[0] != 9 {
			t.Fatalf("AppendIDsFrom(from %d, 50) = %v..., want %v...", from, got[:min(len(got), 4)], want[:min(len(want), 3)])
		}
	}
}
