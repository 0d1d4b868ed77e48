package graph

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// buildDAG makes n pages with about deg out-edges each, every edge going
// from a smaller to a larger page ID so the graph is acyclic.
func buildDAG(tb testing.TB, n, deg int) *Graph {
	g := New()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 1; i < n; i++ {
		for k := 0; k < deg; k++ {
			// Mostly local edges (like derived pages near their sources),
			// some long-range ones.
			span := 64
			if k == 0 {
				span = n
			}
			j := i + 1 + r.IntN(span)
			if j > n {
				j = n
			}
			if _, err := g.AddEdge(base.PageID(i), base.PageID(j), base.EdgeType(k%base.NumEdgeTypes)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return g
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemory1M checks the storage target: 1M pages with 4M edges in at
// most 100 MB of heap, scratch included.
func TestMemory1M(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1M-page graph")
	}
	before := heapAlloc()
	g := buildDAG(t, 1_000_000, 4)
	if err := g.CheckAcyclic(); err != nil {
		t.Fatal(err)
	}
	after := heapAlloc()
	used := int64(after) - int64(before)
	t.Logf("1M pages, %d edges: heap %.1f MB, MemoryBytes %.1f MB", g.NumEdges(), float64(used)/1e6, float64(g.MemoryBytes())/1e6)
	if g.NumEdges() < 3_900_000 {
		t.Fatalf("only %d edges", g.NumEdges())
	}
	if used > 100e6 {
		t.Fatalf("heap %d bytes > 100 MB", used)
	}
	runtime.KeepAlive(g)
}

func BenchmarkAddEdge(b *testing.B) {
	const n = 100_000
	g := buildDAG(b, n, 4)
	r := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A forward edge between existing pages: checked, added, removed.
		p := 1 + r.IntN(n-100)
		c := p + 1 + r.IntN(50)
		added, err := g.AddEdge(base.PageID(p), base.PageID(c), base.EdgeCompiler)
		if err != nil {
			b.Fatal(err)
		}
		if added {
			g.RemoveEdge(base.PageID(p), base.PageID(c), base.EdgeCompiler)
		}
	}
}

func BenchmarkAddEdgeRefused(b *testing.B) {
	const n = 100_000
	g := buildDAG(b, n, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := g.AddEdge(n, 1, base.EdgeData); err == nil {
			b.Fatal("cycle accepted")
		}
	}
}

func benchCheck(b *testing.B, n int) {
	g := buildDAG(b, n, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := g.CheckAcyclic(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckAcyclic10k(b *testing.B) { benchCheck(b, 10_000) }

func BenchmarkCheckAcyclic1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M pages")
	}
	benchCheck(b, 1_000_000)
}

func BenchmarkTopoOrder10k(b *testing.B) {
	g := buildDAG(b, 10_000, 4)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = g.TopoOrder()
	}
}

// BenchmarkDescendants is the per-tick query: the affected sub-graph of
// a few changed pages in a 100k-page graph.
func BenchmarkDescendants(b *testing.B) {
	const n = 100_000
	g := New()
	// Local fan-out only, so each root affects a bounded sub-graph.
	for i := 1; i < n; i++ {
		for k := 1; k <= 2; k++ {
			if (i+k-1)/64 == (i-1)/64 && i+k <= n {
				if _, err := g.AddEdge(base.PageID(i), base.PageID(i+k), base.EdgeData); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	roots := []base.PageID{1000, 50_001, 90_003}
	var dst []base.PageID
	dst = g.AppendDescendants(dst, roots, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = g.AppendDescendants(dst[:0], roots, nil)
	}
	b.ReportMetric(float64(len(dst)), "pages/op")
}

// BenchmarkAddEdgeBackward inserts edges that run against the maintained
// topological order, so that every other insert at least must reorder.
// The graph is 100k pages in independent 64-page blocks with local edges;
// each pair joins two unrelated blocks, so both directions are acyclic.
// Insert i adds (and then removes) pair i/2 in direction i%2: once the
// first direction has placed one end before the other, the second
// direction is always a backward edge.
func BenchmarkAddEdgeBackward(b *testing.B) {
	const n, block = 100_000, 64
	g := New()
	r := rand.New(rand.NewPCG(5, 6))
	for i := 1; i <= n; i++ {
		for k := 0; k < 3; k++ {
			j := i + 1 + r.IntN(8)
			if (j-1)/block != (i-1)/block || j > n {
				continue
			}
			if _, err := g.AddEdge(base.PageID(i), base.PageID(j), base.EdgeType(k)); err != nil {
				b.Fatal(err)
			}
		}
	}
	var p, c base.PageID
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			p = base.PageID(1 + r.IntN(n))
			c = base.PageID(1 + (int(p)-1+block*(1+r.IntN(n/block-2)))%n)
		} else {
			p, c = c, p
		}
		added, err := g.AddEdge(p, c, base.EdgeCompiler)
		if err != nil {
			b.Fatal(err)
		}
		if added {
			g.RemoveEdge(p, c, base.EdgeCompiler)
		}
	}
}
