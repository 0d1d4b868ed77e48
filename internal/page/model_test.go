package page

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"pgregory.net/rapid"
)

// modelPage is the reference model of one page.
type modelPage struct {
	data  []byte
	epoch base.Epoch
	lsn   base.LSN
}

// TestStoreMatchesModel drives a Store and a plain map through the same
// random operations and checks they agree after each step: the store is a
// map from ID to (bytes, epoch, lsn) whatever its slot and cell reuse does.
func TestStoreMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := New()
		defer s.Close()
		model := map[base.PageID]*modelPage{}
		// IDs mix a dense range, a mid range that may migrate into the
		// dense index, and huge sparse ones.
		idGen := rapid.OneOf(
			rapid.Uint64Range(1, 64),
			rapid.Uint64Range(60_000, 70_000),
			rapid.Uint64Range(1<<40, 1<<40+8),
		)
		sizeGen := rapid.OneOf(rapid.IntRange(1, 40), rapid.IntRange(1000, 1100), rapid.IntRange(1<<20, 1<<20+5000))
		liveIDs := func() []base.PageID {
			ids := make([]base.PageID, 0, len(model))
			for id := range model {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			return ids
		}
		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				id := base.PageID(idGen.Draw(t, "id"))
				size := sizeGen.Draw(t, "size")
				_, err := s.Create(id, size, base.LocationCPU)
				if _, exists := model[id]; exists {
					if !errors.Is(err, ErrExists) {
						t.Fatalf("Create(%d) of existing page = %v", id, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Create(%d, %d): %v", id, size, err)
				}
				model[id] = &modelPage{data: make([]byte, size)}
			},
			// The lowest free ID of the dense range: pages created in ID
			// order into fresh slots extend the prefix Lookup answers
			// without the index (Store.ident).
			"createLowest": func(t *rapid.T) {
				id := base.PageID(1)
				for model[id] != nil {
					id++
				}
				if _, err := s.Create(id, sizeGen.Draw(t, "size"), base.LocationCPU); err != nil {
					t.Fatalf("Create(%d): %v", id, err)
				}
				model[id] = &modelPage{data: make([]byte, s.Size(mustLookup(t, s, id)))}
			},
			// Pages of one size created in order into fresh cells extend
			// the flat prefix whose cells are computed (Store.flat).
			"createLowestFixed": func(t *rapid.T) {
				id := base.PageID(1)
				for model[id] != nil {
					id++
				}
				if _, err := s.Create(id, 1024, base.LocationCPU); err != nil {
					t.Fatalf("Create(%d): %v", id, err)
				}
				model[id] = &modelPage{data: make([]byte, 1024)}
			},
			"free": func(t *rapid.T) {
				ids := liveIDs()
				if len(ids) == 0 {
					t.Skip("no pages")
				}
				id := rapid.SampledFrom(ids).Draw(t, "id")
				if err := s.Free(id); err != nil {
					t.Fatalf("Free(%d): %v", id, err)
				}
				delete(model, id)
			},
			"write": func(t *rapid.T) {
				ids := liveIDs()
				if len(ids) == 0 {
					t.Skip("no pages")
				}
				id := rapid.SampledFrom(ids).Draw(t, "id")
				m := model[id]
				off := rapid.IntRange(0, len(m.data)-1).Draw(t, "off")
				v := rapid.Byte().Draw(t, "v")
				sl, _ := s.Lookup(id)
				b := s.Bytes(sl)
				// Write the first and the chosen byte: both ends of cells get hit.
				b[0], b[off] = v, v
				m.data[0], m.data[off] = v, v
				m.epoch++
				m.lsn = base.LSN(rapid.Uint64().Draw(t, "lsn"))
				s.SetEpoch(sl, m.epoch)
				s.SetLastLSN(sl, m.lsn)
			},
			"": func(t *rapid.T) {
				ids := liveIDs()
				if s.Len() != len(ids) {
					t.Fatalf("Len %d, model %d", s.Len(), len(ids))
				}
				if got := s.AppendIDs(nil); !slices.Equal(got, ids) {
					t.Fatalf("AppendIDs %v, model %v", got, ids)
				}
				var logical int64
				owner := make(map[uint32]base.PageID, len(ids)) // cell ref -> page
				var zeros int64
				for _, id := range ids {
					m := model[id]
					logical += int64(len(m.data))
					sl, ok := s.Lookup(id)
					if !ok || s.ID(sl) != id || s.Epoch(sl) != m.epoch || s.LastLSN(sl) != m.lsn {
						t.Fatalf("page %d: slot %d ok %v id %d epoch %d lsn %d", id, sl, ok, s.ID(sl), s.Epoch(sl), s.LastLSN(sl))
					}
					if !bytes.Equal(s.Bytes(sl), m.data) {
						t.Fatalf("page %d bytes differ from the model", id)
					}
					// A computed cell or ID (the prefixes, not stored in
					// private mode) that a cut left wrong, or a stored one
					// a cut did not write, points a page at another page's
					// bytes or names another page: no two pages may share
					// a cell, and past the prefixes the stored entries are
					// the ones read.
					c := s.cell(sl)
					if prev, dup := owner[c.ref]; dup || int(c.size&sizeMask) != len(m.data) {
						t.Fatalf("page %d slot %d: cell %+v (flat prefix %d) also holds page %d (dup %v) or has the wrong size", id, sl, c, s.flat, prev, dup)
					}
					owner[c.ref] = id
					// An entry left zero is one computed (a prefix's, also
					// after a cut); Stats counts exactly those.
					if s.ids[sl] == 0 {
						zeros++
					}
					if s.cells[sl] == (slotCell{}) {
						zeros++
					}
				}
				if s.unstored != zeros {
					t.Fatalf("%d ids and cells entries of live slots are unwritten, the store counts %d (prefixes: in-order %d, flat %d)", zeros, s.unstored, s.ident, s.flat)
				}
				// Absent IDs stay absent, whatever prefix Lookup answers
				// without the index.
				for id := base.PageID(0); id <= 70; id++ {
					if _, live := model[id]; !live {
						if sl, ok := s.Lookup(id); ok {
							t.Fatalf("page %d is not live, but Lookup finds it at slot %d", id, sl)
						}
					}
				}
				if st := s.Stats(); st.LogicalBytes != logical || st.ArenaFree < 0 {
					t.Fatalf("stats %+v, model logical %d", st, logical)
				}
			},
		})
	})
}

func mustLookup(t *rapid.T, s *Store, id base.PageID) Slot {
	sl, ok := s.Lookup(id)
	if !ok {
		t.Fatalf("page %d: just created, Lookup does not find it", id)
	}
	return sl
}
