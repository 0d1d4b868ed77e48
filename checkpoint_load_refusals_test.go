package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/record"
)

// TestLoadCheckpointRefusesMisplacedState: the state record comes first,
// once, and states the container header's LSN; a checkpoint whose frames
// all verify but breaks one of these is corruption. Without these rows,
// removing any of the three checks failed no loader test: the state
// counts then still had to match, so only a hand-made file shows it.
func TestLoadCheckpointRefusesMisplacedState(t *testing.T) {
	const lsn = 10
	state := func(last LSN) []byte {
		return record.AppendState(nil, &record.State{LastLSN: last, NextID: 3, Pages: 2})
	}
	for _, tc := range []struct {
		name string
		recs func(f *framedRecords)
		want string
	}{
		{"state first (control)", func(f *framedRecords) {
			f.add(record.CkptState, state(lsn))
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptPage, smallPage(2))
		}, ""},
		{"a page before the state", func(f *framedRecords) {
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptState, state(lsn))
			f.add(record.CkptPage, smallPage(2))
		}, "first record is kind 2, want the state record"},
		{"a second state record", func(f *framedRecords) {
			f.add(record.CkptState, state(lsn))
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptState, state(lsn))
			f.add(record.CkptPage, smallPage(2))
		}, "second state record"},
		{"state LSN other than the header's", func(f *framedRecords) {
			f.add(record.CkptState, state(lsn-1))
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptPage, smallPage(2))
		}, "state record: LSN 9 != header LSN 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f framedRecords
			tc.recs(&f)
			checkFramedLoad(t, f, lsn, tc.want, 0)
		})
	}
}

// TestLoadCheckpointRefusesRecordsThatDoNotApply: edge and binding records
// must name pages the checkpoint holds (and an edge a known type, and no
// cycle), the file must hold a state record, and the state's counts must
// match what was loaded. Each row is the consistent checkpoint of the
// control with one record changed; without these rows, removing any of
// those checks failed no loader test.
func TestLoadCheckpointRefusesRecordsThatDoNotApply(t *testing.T) {
	const lsn = 10
	state := func(pages, edges, bindings uint64) []byte {
		return record.AppendState(nil, &record.State{LastLSN: lsn, NextID: 10, Pages: pages, Edges: edges, Bindings: bindings})
	}
	edge := func(parent, child PageID, typ uint8) []byte {
		return record.AppendEdge(nil, record.OpAddEdge, parent, child, typ)
	}
	bind := func(child PageID, parents ...PageID) []byte {
		return record.AppendBind(nil, child, "f64.sum", nil, parents)
	}
	for _, tc := range []struct {
		name     string
		edges    [][]byte
		bindings [][]byte
		pages    uint64 // the state's page count (the file holds 3)
		want     string
	}{
		{"consistent (control)", [][]byte{edge(1, 3, 0), edge(2, 3, 0)}, [][]byte{bind(3, 1, 2)}, 3, ""},
		{"edge to a page it does not hold", [][]byte{edge(1, 9, 0)}, nil, 3, "edge child 9"},
		{"edge from a page it does not hold", [][]byte{edge(9, 1, 0)}, nil, 3, "edge parent 9"},
		{"edge of an unknown type", [][]byte{edge(1, 2, 7)}, nil, 3, "unknown edge type 7"},
		{"edge closing a cycle", [][]byte{edge(1, 2, 0), edge(2, 1, 0)}, nil, 3, "edge record does not apply"},
		{"binding of a page it does not hold", nil, [][]byte{bind(9, 1)}, 3, "derived page 9"},
		{"binding to a parent it does not hold", nil, [][]byte{bind(3, 9)}, 3, "parent 9 of derived page 3"},
		// A derived page's Data edges are exactly its binding's.
		{"binding and its edges beside a control edge (control)", [][]byte{edge(1, 3, 0), edge(2, 3, 1)}, [][]byte{bind(3, 1)}, 3, ""},
		{"binding without a parent's data edge", [][]byte{edge(1, 3, 0)}, [][]byte{bind(3, 1, 2)}, 3, "binding of page 3: no data edge from its parent 2"},
		{"binding whose parent has only a control edge", [][]byte{edge(1, 3, 1)}, [][]byte{bind(3, 1)}, 3, "binding of page 3: no data edge from its parent 1"},
		// Without its data edges, nothing proved a binding acyclic.
		{"binding of a page to itself", nil, [][]byte{bind(3, 3)}, 3, "binding of page 3: no data edge from its parent 3"},
		{"two bindings in a cycle", nil, [][]byte{bind(2, 3), bind(3, 2)}, 3, "binding of page 2: no data edge from its parent 3"},
		{"state counts a page more", nil, nil, 4, "the state record counts 4 pages, 0 edges and 0 bindings; the file holds 3, 0 and 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f framedRecords
			f.add(record.CkptState, state(tc.pages, uint64(len(tc.edges)), uint64(len(tc.bindings))))
			for id := PageID(1); id <= 3; id++ {
				f.add(record.CkptPage, smallPage(id))
			}
			for _, e := range tc.edges {
				f.add(record.CkptEdge, e)
			}
			for _, b := range tc.bindings {
				f.add(record.CkptBinding, b)
			}
			checkFramedLoad(t, f, lsn, tc.want, 0)
		})
	}
	t.Run("no records", func(t *testing.T) {
		checkFramedLoad(t, nil, lsn, "no state record", 0)
	})
	// The order of the records is not checked: a foreign Data edge
	// recorded after the binding it contradicts is refused too.
	t.Run("foreign data edge after the binding", func(t *testing.T) {
		var f framedRecords
		f.add(record.CkptState, state(3, 2, 1))
		for id := PageID(1); id <= 3; id++ {
			f.add(record.CkptPage, smallPage(id))
		}
		f.add(record.CkptEdge, edge(1, 3, 0))
		f.add(record.CkptBinding, bind(3, 1))
		f.add(record.CkptEdge, edge(2, 3, 0))
		checkFramedLoad(t, f, lsn, "data edge 2 -> 3: page 3 is bound and 2 is not among its parents [1]", 0)
	})
	t.Run("a record of an unknown kind", func(t *testing.T) {
		var f framedRecords
		f.add(record.CkptState, state(3, 0, 0))
		for id := PageID(1); id <= 3; id++ {
			f.add(record.CkptPage, smallPage(id))
		}
		f.add(record.CkptRecompute+1, []byte{1})
		checkFramedLoad(t, f, lsn, "unknown record kind 7", 0)
	})
}
