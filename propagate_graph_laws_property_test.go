package mmsb

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
	"pgregory.net/rapid"
)

// TestPropertyGraphLawsOfTheBus (rapid) checks three laws of the bus's
// dependency graph that TestPropertyStructureChangesEqualFullRecompute
// (results against a recomputation from scratch) does not:
//
//   - the order in which a graph's edges and bindings are added changes
//     nothing: bus B, built from the same operations as bus A in another
//     order, returns the same waves and logs the same bytes from the first
//     record after the structure on;
//   - removing and re-adding an edge (Unbind and Bind again for a
//     binding's) is the identity: bus C, which does so for random edges
//     while it is built and between waves, holds what A holds and its waves
//     return the same results (but for the LSNs, as its log holds more);
//   - an edge or a Bind that would close a cycle is refused with ErrCycle
//     and leaves the graph, the bindings and what is pending unchanged (a
//     Bind whose last parent closes the cycle too, after the edges of the
//     parents before it were tried).
//
// The graph is a random DAG over 3-8 pages whose topological order is a
// random permutation of their IDs (so that it differs from the ID order the
// wave breaks ties with): bindings to a function that can fail, Data edges
// into unbound pages, and Control, GPU-sync and Compiler edges.
func TestPropertyGraphLawsOfTheBus(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		const now = int64(1_800_000_000_000_000_000) // equal commit times on every bus
		funcs := map[string]RecomputeFunc{
			"calc": func(in [][]byte, params []byte, out []byte) error {
				for i := range out {
					v := byte(1)
					for _, p := range params {
						v += p
					}
					for _, b := range in {
						v = v*3 + b[i%len(b)]
					}
					out[i] = v
				}
				return nil
			},
			"odd": func(in [][]byte, _ []byte, out []byte) error {
				if in[0][0]%4 == 3 {
					return errors.New("odd: refuses 3 mod 4")
				}
				for i := range out {
					out[i] = in[0][i%len(in[0])] + 1
				}
				return nil
			},
		}
		type bus struct {
			fs vfs.FS
			e  *Bus
		}
		open := func() *bus {
			b := &bus{fs: vfs.NewMem()}
			// Small segments: the default 64 MiB segment of each of the three
			// buses took the run over 3 GB of memory.
			e, err := Open("/bus", &Options{FS: b.fs, Sync: SyncNone, SegmentBytes: 1 << 16, CheckpointBytes: -1,
				Clock: func() int64 { return now }, Functions: funcs})
			if err != nil {
				rt.Fatal(err)
			}
			b.e = e
			return b
		}
		a, b, c := open(), open(), open()
		defer func() { a.e.Close(); b.e.Close(); c.e.Close() }()
		all := []*bus{a, b, c}

		n := rapid.IntRange(3, 8).Draw(rt, "pages")
		specs := make([]PageSpec, n)
		for i := range specs {
			specs[i] = PageSpec{Size: rapid.IntRange(1, 4).Draw(rt, "size")}
		}
		var ids []PageID
		for _, x := range all {
			got, err := x.e.CreatePages(ctx, specs)
			if err != nil {
				rt.Fatal(err)
			}
			ids = got
		}
		// The structure: every edge runs from a page earlier in rank to a
		// later one, so every order of adding them is acyclic.
		type structOp struct {
			bind    bool
			child   PageID
			fn      string
			params  []byte
			parents []PageID
			edge    Edge
		}
		rank := rapid.Permutation(ids).Draw(rt, "rank")
		var ops []structOp
		bound := map[PageID]bool{}
		for i := 1; i < len(rank); i++ {
			child, before := rank[i], rank[:i]
			switch rapid.IntRange(0, 2).Draw(rt, "kind") {
			case 1:
				parents := make([]PageID, rapid.IntRange(1, 3).Draw(rt, "parents"))
				for j := range parents {
					parents[j] = rapid.SampledFrom(before).Draw(rt, "parent")
				}
				ops = append(ops, structOp{bind: true, child: child, fn: rapid.SampledFrom([]string{"calc", "odd"}).Draw(rt, "fn"),
					params: rapid.SliceOfN(rapid.Byte(), 0, 2).Draw(rt, "params"), parents: parents})
				bound[child] = true
			case 2:
				for _, p := range rapid.SliceOfNDistinct(rapid.SampledFrom(before), 1, 2, func(p PageID) PageID { return p }).Draw(rt, "data parents") {
					ops = append(ops, structOp{edge: Edge{Parent: p, Child: child, Type: EdgeData}})
				}
			}
			for _, p := range rapid.SliceOfNDistinct(rapid.SampledFrom(before), 0, 2, func(p PageID) PageID { return p }).Draw(rt, "other parents") {
				ops = append(ops, structOp{edge: Edge{Parent: p, Child: child, Type: EdgeType(rapid.IntRange(1, 3).Draw(rt, "type"))}})
			}
		}
		apply := func(e *Bus, op structOp) error {
			if op.bind {
				return e.Bind(ctx, op.child, op.fn, op.params, op.parents)
			}
			return e.AddEdge(ctx, op.edge.Parent, op.edge.Child, op.edge.Type)
		}
		// removeAgain removes op's edge (or binding) from c and adds it again.
		removeAgain := func(op structOp) {
			if op.bind {
				if err := c.e.Unbind(ctx, op.child); err != nil {
					rt.Fatalf("Unbind(%d): %v", op.child, err)
				}
			} else if err := c.e.RemoveEdge(ctx, op.edge.Parent, op.edge.Child, op.edge.Type); err != nil {
				rt.Fatalf("RemoveEdge(%+v): %v", op.edge, err)
			}
			if err := apply(c.e, op); err != nil {
				rt.Fatalf("%+v added again: %v", op, err)
			}
		}
		type snapshot struct {
			edges    []Edge
			bindings string
			pending  int
		}
		snap := func(e *Bus) snapshot {
			s := snapshot{edges: e.EdgesAmong(ids), pending: e.Pending()}
			for _, id := range e.Bindings() {
				bd, _ := e.Binding(id)
				s.bindings += fmt.Sprintf("%d=%+v;", id, bd)
			}
			return s
		}
		// refuseCycles tries an edge closing a cycle (a self-loop, or an
		// existing edge reversed) and a Bind whose last parent closes one,
		// and checks that c is left as it was.
		refuseCycles := func() {
			before := snap(c.e)
			check := func(what string, err error) {
				if !errors.Is(err, ErrCycle) {
					rt.Fatalf("%s: %v, want ErrCycle", what, err)
				}
				if after := snap(c.e); !slices.Equal(after.edges, before.edges) || after.bindings != before.bindings || after.pending != before.pending {
					rt.Fatalf("%s refused changed the bus: %+v, before %+v", what, after, before)
				}
			}
			x := rapid.SampledFrom(ids).Draw(rt, "self")
			check(fmt.Sprintf("AddEdge(%d, %d)", x, x), c.e.AddEdge(ctx, x, x, EdgeType(rapid.IntRange(0, 3).Draw(rt, "self type"))))
			if len(before.edges) == 0 {
				return
			}
			ed := rapid.SampledFrom(before.edges).Draw(rt, "reversed")
			typ := EdgeType(rapid.IntRange(1, 3).Draw(rt, "reversed type"))
			check(fmt.Sprintf("AddEdge(%d, %d, %v)", ed.Child, ed.Parent, typ), c.e.AddEdge(ctx, ed.Child, ed.Parent, typ))
			// Bind ed.Parent, if unbound, to the parents of its Data edges
			// (so that the binding would own them), then others, then
			// ed.Child, which closes the cycle.
			if _, ok := c.e.Binding(ed.Parent); ok {
				return
			}
			var parents []PageID
			for _, in := range before.edges {
				if in.Child == ed.Parent && in.Type == EdgeData {
					parents = append(parents, in.Parent)
				}
			}
			for _, p := range rank {
				if p == ed.Parent {
					break
				}
				if rapid.Bool().Draw(rt, "extra parent") {
					parents = append(parents, p)
				}
			}
			parents = append(parents, ed.Child)
			check(fmt.Sprintf("Bind(%d, %v)", ed.Parent, parents), c.e.Bind(ctx, ed.Parent, "calc", nil, parents))
		}

		for _, op := range ops {
			if err := apply(a.e, op); err != nil {
				rt.Fatalf("bus A: %+v: %v", op, err)
			}
			if err := apply(c.e, op); err != nil {
				rt.Fatalf("bus C: %+v: %v", op, err)
			}
			if rapid.Bool().Draw(rt, "remove and add again") {
				removeAgain(op)
			}
			if rapid.IntRange(0, 3).Draw(rt, "try a cycle") == 0 {
				refuseCycles()
			}
		}
		for _, op := range rapid.Permutation(ops).Draw(rt, "order of B") {
			if err := apply(b.e, op); err != nil {
				rt.Fatalf("bus B: %+v: %v", op, err)
			}
		}
		if a.e.LastLSN() != b.e.LastLSN() {
			rt.Fatalf("LSN after the structure: A %d, B %d", a.e.LastLSN(), b.e.LastLSN())
		}
		from := a.e.LastLSN() + 1

		same := func(step string) {
			want := snap(a.e)
			for _, x := range []*bus{b, c} {
				got := snap(x.e)
				if !slices.Equal(got.edges, want.edges) || got.bindings != want.bindings || got.pending != want.pending {
					rt.Fatalf("%s: bus %p holds %+v, bus A %+v", step, x, got, want)
				}
				if hashOf(rt, x.e) != hashOf(rt, a.e) {
					rt.Fatalf("%s: state hashes differ", step)
				}
				for _, id := range ids {
					fx, _ := x.e.Flags(id)
					fa, _ := a.e.Flags(id)
					if fx != fa {
						rt.Fatalf("%s: page %d flags %#x, bus A %#x", step, id, fx, fa)
					}
				}
			}
		}
		noLSNs := func(r PropagateResult) string {
			r.FirstLSN, r.LastLSN = 0, 0
			r.Writes, r.Flags = slices.Clone(r.Writes), slices.Clone(r.Flags)
			for i := range r.Writes {
				r.Writes[i].LSN = 0
			}
			for i := range r.Flags {
				r.Flags[i].LSN = 0
			}
			return fmt.Sprintf("%+v", r)
		}
		wave := func(step string) {
			ra, errA := a.e.Propagate(ctx)
			rb, errB := b.e.Propagate(ctx)
			rc, errC := c.e.Propagate(ctx)
			if fmt.Sprint(errA) != fmt.Sprint(errB) || fmt.Sprintf("%+v", ra) != fmt.Sprintf("%+v", rb) {
				rt.Fatalf("%s: wave of A %+v, %v; of B (other order) %+v, %v", step, ra, errA, rb, errB)
			}
			if fmt.Sprint(errA) != fmt.Sprint(errC) || noLSNs(ra) != noLSNs(rc) {
				rt.Fatalf("%s: wave of A %+v, %v; of C (edges removed and added again) %+v, %v", step, ra, errA, rc, errC)
			}
			if errA != nil && !errors.Is(errA, ErrRecompute) {
				rt.Fatal(errA)
			}
			same(step)
		}
		same("built")
		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for i := range steps {
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1, 2:
				id := rapid.SampledFrom(ids).Draw(rt, "write")
				if bound[id] {
					continue
				}
				size := specs[slices.Index(ids, id)].Size
				data := rapid.SliceOfN(rapid.Byte(), size, size).Draw(rt, "data")
				for _, x := range all {
					if _, err := x.e.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Data: data}}}}); err != nil {
						rt.Fatal(err)
					}
				}
			case 3:
				wave(fmt.Sprintf("step %d", i))
			case 4: // an edge a binding does not own, removed and added again
				var free []structOp
				for _, op := range ops {
					if !op.bind {
						free = append(free, op)
					}
				}
				if len(free) > 0 {
					removeAgain(rapid.SampledFrom(free).Draw(rt, "edge again"))
				}
			case 5:
				refuseCycles()
			}
		}
		wave("last wave")
		for _, x := range []*bus{a, b} {
			if err := x.e.Close(); err != nil {
				rt.Fatal(err)
			}
		}
		ra, rb := logRecordsFrom(t, a.fs, from), logRecordsFrom(t, b.fs, from)
		if !slices.Equal(ra, rb) {
			rt.Fatalf("log from LSN %d: A (one order) %v, B (another) %v", from, ra, rb)
		}
	})
}
