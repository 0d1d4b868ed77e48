package graph

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// repairCaps returns the capacities of the order repair's scratch slices.
func repairCaps(g *Graph) map[string]int {
	s := &g.s
	return map[string]int{
		"list": cap(s.list), "stack": cap(s.stack), "back": cap(s.back), "pool": cap(s.pool),
		"fIn": cap(s.fIn), "fOut": cap(s.fOut), "bIn": cap(s.bIn), "bOut": cap(s.bOut),
	}
}

// starRepair builds y=1 -> 2..k+1 and then adds x -> 1, where x (a child
// created last) is ordered after the whole star: the repair's forward
// search finds all k children inside the window, so its slices grow to k.
func starRepair(t *testing.T, k int) *Graph {
	t.Helper()
	g := New()
	for c := base.PageID(2); c <= base.PageID(k+1); c++ {
		if _, err := g.AddEdge(1, c, base.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	x := base.PageID(k + 10)
	if _, err := g.AddEdge(base.PageID(k+20), x, base.EdgeData); err != nil {
		t.Fatal(err)
	}
	if added, err := g.AddEdge(x, 1, base.EdgeData); err != nil || !added {
		t.Fatalf("AddEdge(%d, 1) = %v, %v, want added", x, added, err)
	}
	if err := g.verifyOrder(); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestRepairScratchBounded: one repair that visits more than scratchKeep
// nodes leaves no repair slice above scratchKeep entries behind (they kept
// every entry for the graph's life: ~28 MB after a repair over a million
// nodes), while a smaller repair keeps its slices for reuse.
func TestRepairScratchBounded(t *testing.T) {
	big := starRepair(t, scratchKeep+1000)
	for name, c := range repairCaps(big) {
		if c > scratchKeep {
			t.Errorf("after a repair over %d nodes the scratch slice %s keeps capacity %d, want at most %d", scratchKeep+1000, name, c, scratchKeep)
		}
	}
	// The graph still works after shedding: another repair, then a cycle.
	if _, err := big.AddEdge(3, 2, base.EdgeData); err != nil {
		t.Fatal(err)
	}
	if _, err := big.AddEdge(2, 1, base.EdgeData); err == nil {
		t.Fatal("edge 2 -> 1 accepted, want a cycle")
	}
	if err := big.verifyOrder(); err != nil {
		t.Fatal(err)
	}

	const small = 5000
	g := starRepair(t, small)
	if c := repairCaps(g); c["list"] < small || c["fIn"] < small {
		t.Fatalf("after a repair over %d nodes the scratch keeps list %d, fIn %d: want the slices kept for reuse", small, c["list"], c["fIn"])
	}
}

// TestTraversalScratchKeptForTheGraph: a whole-graph traversal (a wave's
// AppendDescendants, TopoOrder, CheckAcyclic) keeps its list and stack
// for the next one, however large: they are bounded by the graph's size,
// as its per-node stamp and aux are, and a graph that large is traversed
// that far again. Dropping them past scratchKeep after every traversal
// made each wave over more than scratchKeep pages allocate and fault in
// ~8 MB afresh (#3's acyclicity check of 1M pages: 67 ms before, 80 ms
// with them dropped). A repair still sheds them (TestRepairScratchBounded).
func TestTraversalScratchKeptForTheGraph(t *testing.T) {
	star := func(k int) *Graph {
		g := New()
		for c := base.PageID(2); c <= base.PageID(k+1); c++ {
			if _, err := g.AddEdge(1, c, base.EdgeData); err != nil {
				t.Fatal(err)
			}
		}
		return g
	}
	const big = scratchKeep + 1000
	g := star(big)
	for _, tr := range []struct {
		name string
		run  func()
	}{
		{"AppendDescendants", func() {
			if got := len(g.AppendDescendants(nil, []base.PageID{1}, nil)); got != big {
				t.Fatalf("AppendDescendants found %d pages, want %d", got, big)
			}
		}},
		{"TopoOrder", func() {
			if got := len(g.TopoOrder()); got != big+1 {
				t.Fatalf("TopoOrder has %d pages, want %d", got, big+1)
			}
		}},
		{"CheckAcyclic", func() {
			if err := g.CheckAcyclic(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		tr.run()
		// Kept for the next traversal, and bounded by the graph: twice
		// its nodes (append's growth).
		if c := repairCaps(g); c["list"] < big || c["list"] > 2*(big+1) || c["stack"] > 2*(big+1) {
			t.Errorf("after %s over %d nodes the scratch keeps list %d, stack %d entries: want the list kept (at least %d) and both at most %d", tr.name, big, c["list"], c["stack"], big, 2*(big+1))
		}
	}

	const small = 5000
	s := star(small)
	s.AppendDescendants(nil, []base.PageID{1}, nil)
	if c := repairCaps(s); c["list"] < small {
		t.Fatalf("after a wave over %d nodes the scratch keeps list %d: want it kept for reuse", small, c["list"])
	}
}
