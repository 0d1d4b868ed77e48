package mmsb

import (
	"testing"

	"pgregory.net/rapid"
)

// TestPropertyProvenanceLastWriterMatchesModel (rapid): the direct writer a
// provenance query names is the last operation that wrote a byte of the
// asked range, whatever the size of the history ring (disabled, 1, 2, 4 or
// the default entries, so that the walk falls back to the log at random
// points) and whatever came between: sparse writes whose bounding range
// covers the ask without writing it, writes of other pages, metadata
// changes, freed and created pages. With details the answer is that writer
// (or the page's creation), exact; with NoLogDetails it may be a later
// write whose bounding range covers the ask, reported inexact, but an
// answer reported exact is the writer.
func TestPropertyProvenanceLastWriterMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		hist := rapid.SampledFrom([]int{-1, 1, 2, 4, 0}).Draw(rt, "history entries")
		e, err := Open("", &Options{Clock: testClock(), CheckpointBytes: -1, HistoryEntries: hist})
		if err != nil {
			rt.Fatal(err)
		}
		defer e.Close()
		const size = 16
		type op struct {
			lsn     LSN
			written [size]bool
			lo, hi  int // bounding range
		}
		ops := map[PageID][]op{} // per live page, creation first
		var live []PageID
		create := func() {
			info, err := e.CreatePages(ctx, []PageSpec{{Size: size}})
			if err != nil {
				rt.Fatal(err)
			}
			id := info[0]
			var o op
			o.lsn, o.lo, o.hi = e.LastLSN(), 0, size
			for i := range o.written {
				o.written[i] = true
			}
			ops[id] = []op{o}
			live = append(live, id)
		}
		for range rapid.IntRange(1, 3).Draw(rt, "pages") {
			create()
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			id := rapid.SampledFrom(live).Draw(rt, "page")
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1, 2: // a write of 1-3 runs, sparse or not
				var d Delta
				d.Page = id
				var o op
				o.lo, o.hi = size, 0
				for range rapid.IntRange(1, 3).Draw(rt, "runs") {
					off := rapid.IntRange(0, size-1).Draw(rt, "off")
					n := rapid.IntRange(1, size-off).Draw(rt, "n")
					overlaps := false
					for _, r := range d.Runs {
						if off < int(r.Offset)+len(r.Data) && int(r.Offset) < off+n {
							overlaps = true
						}
					}
					if overlaps {
						continue
					}
					d.Runs = append(d.Runs, Run{Offset: uint32(off), Data: make([]byte, n)})
					for i := off; i < off+n; i++ {
						o.written[i] = true
					}
					o.lo, o.hi = min(o.lo, off), max(o.hi, off+n)
				}
				info, err := e.Commit(ctx, []Delta{d})
				if err != nil {
					rt.Fatal(err)
				}
				o.lsn = info.FirstLSN
				ops[id] = append(ops[id], o)
			case 3:
				if err := e.SetMetadata(ctx, id, []MetaEntry{{Key: "k", Value: []byte{1}}}); err != nil {
					rt.Fatal(err)
				}
			case 4:
				if len(live) > 1 {
					if err := e.FreePage(ctx, id); err != nil {
						rt.Fatal(err)
					}
					delete(ops, id)
					for i, p := range live {
						if p == id {
							live = append(live[:i], live[i+1:]...)
							break
						}
					}
				}
				create()
			case 5: // ask
				off := rapid.IntRange(0, size-1).Draw(rt, "ask off")
				n := rapid.IntRange(1, size-off).Draw(rt, "ask n")
				var want op
				for _, o := range ops[id] {
					for i := off; i < off+n; i++ {
						if o.written[i] {
							want = o
							break
						}
					}
				}
				noDetails := rapid.Bool().Draw(rt, "no details")
				r, err := e.ProvenanceWith(ctx, id, off, n, ProvenanceOptions{NoLogDetails: noDetails})
				if err != nil {
					rt.Fatal(err)
				}
				got := r.Writes[0]
				switch {
				case got.Lost:
					rt.Fatalf("page %d [%d, %d): lost (history %d), want LSN %d", id, off, off+n, hist, want.lsn)
				case got.Exact && got.LSN != want.lsn:
					rt.Fatalf("page %d [%d, %d), no details %v, history %d: exact answer LSN %d, the last writer is %d", id, off, off+n, noDetails, hist, got.LSN, want.lsn)
				case !noDetails && !got.Exact:
					rt.Fatalf("page %d [%d, %d), history %d: answer %+v not exact with details", id, off, off+n, hist, got)
				case !got.Exact:
					// A later write whose bounding range covers the ask.
					var found *op
					for i := range ops[id] {
						if ops[id][i].lsn == got.LSN {
							found = &ops[id][i]
						}
					}
					if found == nil || got.LSN < want.lsn || found.hi <= off || off+n <= found.lo {
						rt.Fatalf("page %d [%d, %d), history %d: inexact answer %+v, the last writer is %d", id, off, off+n, hist, got, want.lsn)
					}
				}
			}
		}
	})
}
