package validate

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestInvariantsFindingsALiveBusCannotReach is the negative control of
// the invariants' findings that a live bus cannot be made to show: a last
// write beyond the bus's last LSN, a page size out of range, page bytes of
// another length than the declared size, Stats totals that differ from
// the pages, and a cycle. The checks take the pieces they read (the page
// listing, the last LSN, the graph view), so each case feeds the real
// check one altered piece read from a clean bus and requires the exact
// finding, its kind and invariant. With its report line removed, each of
// these findings passed every other test of the package (tried).
func TestInvariantsFindingsALiveBusCannotReach(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 16}, {Size: 8}})
	mustNil(t, err)
	_, err = e.Commit(ctx, []delta.Delta{{Page: ids[1], Runs: []delta.Run{{Data: []byte{1, 2, 3}}}}})
	mustNil(t, err)
	mustNil(t, e.Bind(ctx, ids[2], "passthrough", nil, ids[:1]))
	listing := func(t *testing.T) ([]mmsb.PageInfo, mmsb.LSN) {
		t.Helper()
		pages, err := e.Pages()
		mustNil(t, err)
		return pages, e.LastLSN()
	}
	// Unaltered, every check passes: each finding below is the alteration's.
	pages, last := listing(t)
	r, rep := newReporter("invariants", &Options{})
	mustNil(t, NewInvariants().checkEpochs(ctx, pages, last, r))
	mustNil(t, checkSizes(ctx, e, pages, last, r))
	v, err := ViewOf(e)
	mustNil(t, err)
	mustNil(t, checkAcyclic(ctx, v, r))
	if rep.Total != 0 {
		t.Fatalf("clean bus: %d problems: %v", rep.Total, rep.Problems)
	}

	// want finds the problem whose text holds what, and checks it.
	want := func(t *testing.T, rep *Report, what string, kind ProblemKind, inv string, page mmsb.PageID) {
		t.Helper()
		for _, p := range rep.Problems {
			if strings.Contains(p.What, what) {
				if p.Kind != kind || p.Where != inv || p.Page != page || p.Validator != "invariants" {
					t.Fatalf("finding %+v: want kind %q, where %q, page %d", p, kind, inv, page)
				}
				return
			}
		}
		t.Fatalf("no finding %q among %d: %v", what, rep.Total, rep.Problems)
	}

	t.Run("last write beyond the last LSN", func(t *testing.T) {
		pages, last := listing(t)
		r, rep := newReporter("invariants", &Options{})
		// A last LSN one behind page 2's last write (the commit).
		w := pages[1].LastLSN
		if w == 0 || w > last {
			t.Fatalf("page 2 last written at LSN %d, bus's last LSN %d", w, last)
		}
		mustNil(t, NewInvariants().checkEpochs(ctx, pages, w-1, r))
		want(t, rep, fmt.Sprintf("page 2 last written at LSN %d, beyond the bus's last LSN %d", w, w-1), KindEpoch, InvEpochMonotonic, ids[1])
		if rep.Total != 1 {
			t.Fatalf("%d problems, want 1: %v", rep.Total, rep.Problems)
		}
	})
	for _, size := range []int{0, -1, base.MaxPageSize + 1} {
		t.Run("size "+strconv.Itoa(size), func(t *testing.T) {
			pages, last := listing(t)
			pages[0].Size = size
			r, rep := newReporter("invariants", &Options{})
			mustNil(t, checkSizes(ctx, e, pages, last, r))
			want(t, rep, "page 1 has size "+strconv.Itoa(size), KindSize, InvPageSize, ids[0])
		})
	}
	t.Run("bytes differ from the declared size", func(t *testing.T) {
		pages, last := listing(t)
		pages[1].Size = 24
		r, rep := newReporter("invariants", &Options{})
		mustNil(t, checkSizes(ctx, e, pages, last, r))
		want(t, rep, "page 2 holds 16 bytes, declared size 24", KindSize, InvPageSize, ids[1])
	})
	t.Run("stats totals", func(t *testing.T) {
		// A listing without page 2: every page it holds reads right, only
		// the totals (2 pages / 16 bytes against Stats' 3 / 32) differ.
		pages, last := listing(t)
		pages = append(pages[:1], pages[2:]...)
		r, rep := newReporter("invariants", &Options{})
		mustNil(t, checkSizes(ctx, e, pages, last, r))
		want(t, rep, "stats report 3 pages / 32 logical bytes, pages sum to 2 / 16", KindSize, InvPageSize, 0)
		if rep.Total != 1 {
			t.Fatalf("%d problems, want 1: %v", rep.Total, rep.Problems)
		}
		// Stats read after a write the listing has not seen: not compared
		// (a moving bus), so the same listing gives no finding.
		r, rep = newReporter("invariants", &Options{})
		mustNil(t, checkSizes(ctx, e, pages, last-1, r))
		if rep.Total != 0 {
			t.Fatalf("totals compared across a write: %v", rep.Problems)
		}
	})
	t.Run("cycle", func(t *testing.T) {
		v, err := ViewOf(e)
		mustNil(t, err)
		// The bus's edge 1 -> 3, closed by 3 -> 2 -> 1.
		v.Edges = append(v.Edges, mmsb.Edge{Parent: ids[2], Child: ids[1], Type: mmsb.EdgeData}, mmsb.Edge{Parent: ids[1], Child: ids[0], Type: mmsb.EdgeData})
		r, rep := newReporter("invariants", &Options{})
		mustNil(t, checkAcyclic(ctx, v, r))
		want(t, rep, "not acyclic", KindCycle, InvAcyclic, 0)
		if rep.Total != 1 {
			t.Fatalf("%d problems, want 1 (the graph validator's first finding): %v", rep.Total, rep.Problems)
		}
	})
}

// TestInvariantsTotalsOnAMovingBus: a write that lands between the page
// listing and the read of the last LSN that followed it (afterListing
// runs there) made page-size compare the listing's totals with Stats
// taken after the write, both at the same last LSN: "stats report 4
// pages / 32 logical bytes, pages sum to 3 / 24" on a healthy bus. The
// totals are now compared only when no write came since before the
// listing, and the epoch bound still uses the LSN read after it.
func TestInvariantsTotalsOnAMovingBus(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	_, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	mustNil(t, err)
	wrote := 0
	afterListing = func() {
		if wrote == 0 {
			_, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			mustNil(t, err)
		}
		wrote++
	}
	defer func() { afterListing = nil }()
	iv := NewInvariants()
	rep, err := iv.Check(ctx, e, Options{})
	mustNil(t, err)
	if wrote != 1 || rep.Total != 0 {
		t.Fatalf("a write after the listing (hook ran %d time(s)): %d problem(s) %v, want none", wrote, rep.Total, rep.Problems)
	}
	// The next run lists the new page and compares the totals again.
	rep, err = iv.Check(ctx, e, Options{})
	mustNil(t, err)
	if rep.Total != 0 {
		t.Fatalf("second run: %v", rep.Problems)
	}
}

// TestInvariantsBusClosedMidCheck: a bus closed under the check (here
// right after the page listing) makes every check that still reads it
// report a "failed" problem: each page's read, each binding's, and the
// graph, which acyclic reported as a cycle ("acyclic: mmsb: bus closed",
// kind cycle). The report line had no control: nothing else closes the
// bus between the listing and the graph.
func TestInvariantsBusClosedMidCheck(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	mustNil(t, err)
	mustNil(t, e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]))
	afterListing = func() { mustNil(t, e.Close()) }
	defer func() { afterListing = nil }()
	rep, err := NewInvariants().Check(ctx, e, Options{})
	mustNil(t, err)
	var graph, pages, bindings int
	for _, p := range rep.Problems {
		switch {
		case p.Kind != KindFailed:
			t.Errorf("problem %+v: want kind %q (the bus closed, nothing is known to be wrong)", p, KindFailed)
		case p.Where == InvAcyclic && strings.HasPrefix(p.What, "graph could not be read: ") && strings.Contains(p.What, "closed"):
			graph++
		case p.Where == InvPageSize:
			pages++
		case strings.HasPrefix(p.Where, "binding of page 2"):
			bindings++
		}
	}
	if graph != 1 || pages != 2 || bindings != 1 || rep.Total != 4 {
		t.Fatalf("%d problem(s) %v: want the graph (got %d), each page's read (%d) and the binding's (%d), all kind %q",
			rep.Total, rep.Problems, graph, pages, bindings, KindFailed)
	}
}
