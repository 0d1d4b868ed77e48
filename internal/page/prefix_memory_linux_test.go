package page

import (
	"encoding/binary"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// TestPrefixEntriesNotStored: in a private store, pages created in ID order
// into fresh cells of one size take the in-order and flat prefixes, whose
// IDs and cells are computed; their ids and cells entries are not written,
// so those arrays' OS pages stay out of RSS (16 B per page at 1M pages).
// The vers array, written for every page, is the control that mincore sees
// written entries. Freeing a page inside the prefixes stores the entries
// past it, and every page still reads back as itself.
// Before: ids and cells had all 40 OS pages of the first 20,000 slots
// resident, as vers does.
func TestPrefixEntriesNotStored(t *testing.T) {
	const n = 20_000
	s := newStore(t)
	for id := base.PageID(1); id <= n; id++ {
		sl := mustCreate(t, s, id, 1024)
		binary.LittleEndian.PutUint32(s.Bytes(sl), uint32(id))
	}
	if s.ident != n || s.flat != n {
		t.Fatalf("prefixes: in-order %d, flat %d after %d pages created in order, want both %d", s.ident, s.flat, n, n)
	}
	idsRes, idsTotal := residentPages(t, s.idsR.mem[:n*8])
	cellsRes, _ := residentPages(t, s.cellsR.mem[:n*8])
	versRes, versTotal := residentPages(t, s.versR.mem[:n*16])
	t.Logf("resident OS pages for %d slots: ids %d of %d, cells %d of %d, vers %d of %d", n, idsRes, idsTotal, cellsRes, idsTotal, versRes, versTotal)
	if versRes != versTotal {
		t.Fatalf("control: vers has %d of %d OS pages resident after every slot's entry was written", versRes, versTotal)
	}
	if idsRes != 0 || cellsRes != 0 {
		t.Fatalf("ids has %d and cells %d of %d OS pages resident: entries of the prefixes were stored", idsRes, cellsRes, idsTotal)
	}
	if st := s.Stats(); st.MetaBytes >= n*slotBytes {
		t.Fatalf("Stats.MetaBytes %d counts the unwritten entries (%d slots of %d B)", st.MetaBytes, n, slotBytes)
	}

	// Cut both prefixes at page 100 (slot 99), then page 5 (slot 4).
	// The cut writes nothing past the freed slot: the entries it cut off
	// stay unwritten and computed (a zero entry, see ID and cell), so only
	// the OS page holding slots 4 and 99 becomes resident (the free writes
	// their entries). Before: the cut stored every entry past it, all 40
	// OS pages of each array, 38 ms under the bus lock at 4M pages.
	before := s.slotArrayBytes()
	for _, id := range []base.PageID{100, 5} {
		if err := s.Free(id); err != nil {
			t.Fatal(err)
		}
	}
	if s.ident != 4 || s.flat != 4 {
		t.Fatalf("prefixes after freeing pages 100 and 5: in-order %d, flat %d, want 4 and 4", s.ident, s.flat)
	}
	idsRes, _ = residentPages(t, s.idsR.mem[:n*8])
	cellsRes, _ = residentPages(t, s.cellsR.mem[:n*8])
	if idsRes != 1 || cellsRes != 1 {
		t.Fatalf("after cutting the prefixes, ids has %d and cells %d of %d OS pages resident, want 1 each (the freed slots'): the cut stored the entries past it", idsRes, cellsRes, idsTotal)
	}
	for id := base.PageID(1); id <= n; id++ {
		sl, ok := s.Lookup(id)
		if id == 100 || id == 5 {
			if ok {
				t.Fatalf("freed page %d found at slot %d", id, sl)
			}
			continue
		}
		if !ok || s.ID(sl) != id || s.Size(sl) != 1024 || binary.LittleEndian.Uint32(s.Bytes(sl)) != uint32(id) {
			t.Fatalf("page %d: slot %d ok %v ID %d size %d", id, sl, ok, s.ID(sl), s.Size(sl))
		}
	}
	// Stats counts what is written: the two freed slots' four entries.
	if got := s.slotArrayBytes() - before; got != 4*8 {
		t.Fatalf("the slot arrays' bytes in Stats grew by %d with the cut, want 32 (the freed slots' ids and cells entries)", got)
	}
	if err := s.SetMeta(2, []MetaEntry{{"k", []byte("v")}}); err != nil { // page 3, in the prefixes
		t.Fatalf("SetMeta of a page in the prefixes: %v", err)
	}
}
