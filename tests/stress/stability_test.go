//go:build stress

package stress

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/tick"
)

// The stability workload's page pool: three element types, so that every
// family of built-in functions is bound somewhere.
const (
	stF64Pages  = 48 // "f64", 8 elements
	stI64Pages  = 24 // "i64", 8 elements
	stBoolPages = 24 // "bool", 32 elements
	stF64Size   = 64
	stI64Size   = 64
	stBoolSize  = 32
	stPool      = stF64Pages + stI64Pages + stBoolPages
	stMaxEdges  = 160 // above this the workload removes more than it adds
	stMaxBound  = 40  // above this it unbinds more than it binds
	stCheck     = 100 // invariant validator period, in cycles
	stInjectNaN = 5000
	stInjectUsr = 7000
)

// stKind is a page's element type.
type stKind uint8

const (
	kindF64 stKind = iota
	kindI64
	kindBool
)

func (k stKind) String() string { return [...]string{"f64", "i64", "bool"}[k] }

// stFuncs are the built-ins bound per element type. Weighted f64 functions
// get weights that keep values bounded (sum of weights <= 1, small
// additive weights), so that 10,000 cycles of propagation never overflow
// to Inf: a NaN or Inf seen by the validator is a real defect.
var stFuncs = [...][]string{
	kindF64:  {"f64.max", "f64.min", "f64.weighted", "f64.minplus", "f64.maxplus", "f64.sum", "passthrough"},
	kindI64:  {"i64.sum", "passthrough"},
	kindBool: {"bool.or", "bool.reach", "passthrough"},
}

// stModel mirrors the graph and the bindings from the engine's answers,
// so that refusals can be predicted independently of the engine's graph
// code and the engine's graph can be compared with it.
type stModel struct {
	kinds []stKind             // by page ID - 1 (the pool)
	edges []mmsb.Edge          // sorted (parent, child, type)
	bound map[mmsb.PageID]bool // derived pages
	// parents of each binding, to know which Data edges a binding owns.
	bindParents map[mmsb.PageID][]mmsb.PageID
}

func edgeCmp(a, b mmsb.Edge) int {
	switch {
	case a.Parent != b.Parent:
		return cmpU(uint64(a.Parent), uint64(b.Parent))
	case a.Child != b.Child:
		return cmpU(uint64(a.Child), uint64(b.Child))
	}
	return cmpU(uint64(a.Type), uint64(b.Type))
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (m *stModel) addEdge(ed mmsb.Edge) {
	if i, ok := slices.BinarySearchFunc(m.edges, ed, edgeCmp); !ok {
		m.edges = slices.Insert(m.edges, i, ed)
	}
}

func (m *stModel) removeEdge(ed mmsb.Edge) {
	if i, ok := slices.BinarySearchFunc(m.edges, ed, edgeCmp); ok {
		m.edges = slices.Delete(m.edges, i, i+1)
	}
}

// reaches reports whether to is reachable from `from` over edges of any
// type (the engine keeps the whole graph acyclic, not each type).
func (m *stModel) reaches(from, to mmsb.PageID) bool {
	if from == to {
		return true
	}
	seen := map[mmsb.PageID]bool{from: true}
	stack := []mmsb.PageID{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, _ := slices.BinarySearchFunc(m.edges, mmsb.Edge{Parent: n}, edgeCmp)
		for ; i < len(m.edges) && m.edges[i].Parent == n; i++ {
			c := m.edges[i].Child
			if c == to {
				return true
			}
			if !seen[c] {
				seen[c] = true
				stack = append(stack, c)
			}
		}
	}
	return false
}

// hasDataIn reports whether a page has incoming Data edges.
func (m *stModel) hasDataIn(id mmsb.PageID) bool {
	for _, ed := range m.edges {
		if ed.Child == id && ed.Type == mmsb.EdgeData {
			return true
		}
	}
	return false
}

// ownedByBinding reports whether a Data edge belongs to its child's binding.
func (m *stModel) ownedByBinding(ed mmsb.Edge) bool {
	return ed.Type == mmsb.EdgeData && slices.Contains(m.bindParents[ed.Child], ed.Parent)
}

// stConfig selects the injected violations of the control run.
type stConfig struct {
	cycles    int
	injectNaN int // cycle at which NaN is committed into the sentinel page (0: never)
	injectUsr int // cycle at which the user invariant fails (0: never)
}

// stCounts are the workload's figures.
type stCounts struct {
	submitted, invalid, committed, rejected int
	edgesAdded, edgesRemoved, removeRefused int
	cyclesRefused, bindCyclesRefused        int
	binds, unbinds, recomputed, derived     int
	flagClears                              int
	checks, violations                      int
}

// stViolation is one invariant problem, with the tick that reported it.
type stViolation struct {
	tick uint64
	p    validate.Problem
}

// TestStability runs the random workload for -stress.cycles cycles (10,000
// by default): every cycle mutates the graph (edges of every type added
// and removed, attempted cycles, bindings of derived pages to built-in
// functions, unbindings), submits random deltas (some deliberately
// invalid) and ticks, which commits and propagates; the invariant
// validator runs every 100 ticks as an orchestrator hook and must report
// nothing. At the end the log must replay to the same state and the graph
// and integrity validators must be clean.
func TestStability(t *testing.T) {
	requireWorkload(t, "stress.cycles", *flagCycles, stCheck)
	c, viol := runStability(t, stConfig{cycles: *flagCycles})
	for _, v := range viol {
		t.Errorf("tick %d: %v", v.tick, v.p)
	}
	figure(t, "stability", "cycles", *flagCycles, "checks", c.checks, "violations", c.violations,
		"deltas_committed", c.committed, "deltas_rejected", c.rejected, "edges_added", c.edgesAdded,
		"edges_removed", c.edgesRemoved, "cycles_refused", c.cyclesRefused+c.bindCyclesRefused,
		"binds", c.binds, "unbinds", c.unbinds, "recomputes", c.recomputed, "derived_writes", c.derived)
	if c.checks != *flagCycles/stCheck {
		t.Errorf("invariant validator ran %d times, want %d (every %d cycles)", c.checks, *flagCycles/stCheck, stCheck)
	}
}

// TestStabilityControl runs the same workload with two injected
// violations, which the validator must catch exactly where they are: a NaN
// committed into an "f64" page at cycle 5000 (built-in finite-f64) and a
// user invariant that fails at cycle 7000. A validator that cannot see
// them would let TestStability pass vacuously.
func TestStabilityControl(t *testing.T) {
	cycles := *flagCycles
	nan, usr := stInjectNaN, stInjectUsr
	if cycles < 2*stInjectNaN {
		// Smaller runs (-stress.cycles) inject proportionally, on a check.
		nan, usr = max(cycles/2/stCheck*stCheck, stCheck), max(cycles*7/10/stCheck*stCheck, 2*stCheck)
		if cycles < usr {
			t.Skipf("-stress.cycles=%d is too short for a control run", cycles)
		}
	}
	c, viol := runStability(t, stConfig{cycles: cycles, injectNaN: nan, injectUsr: usr})
	sentinel := mmsb.PageID(stPool + 1)
	var sawNaN, sawUsr bool
	for _, v := range viol {
		switch {
		case v.tick == uint64(nan) && v.p.Where == validate.InvFiniteF64 && v.p.Page == sentinel:
			sawNaN = true
		case v.tick == uint64(usr) && v.p.Where == "user.fails-at-cycle":
			sawUsr = true
		default:
			t.Errorf("unexpected violation at tick %d: %v", v.tick, v.p)
		}
	}
	if !sawNaN {
		t.Errorf("NaN committed into f64 page %d at cycle %d was not reported by %s", sentinel, nan, validate.InvFiniteF64)
	}
	if !sawUsr {
		t.Errorf("user invariant failing at cycle %d was not reported", usr)
	}
	figure(t, "stability_control", "cycles", cycles, "checks", c.checks, "violations", c.violations,
		"nan_at", nan, "nan_caught", sawNaN, "user_fail_at", usr, "user_caught", sawUsr)
}

func runStability(t *testing.T, cfg stConfig) (stCounts, []stViolation) {
	t.Helper()
	ctx := context.Background()
	var c stCounts
	rng := rand.New(rand.NewPCG(*flagSeed, 0x737461626c65))
	clock := int64(1_767_225_600_000_000_000)
	e, err := mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1,
		Clock: func() int64 { clock += 1000; return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	o, err := tick.New(e, &tick.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()

	// The pool, then one f64 sentinel page (ID stPool+1) that no workload
	// operation touches: the control run writes its NaN there, where it
	// cannot flow into a binding.
	m := &stModel{bound: map[mmsb.PageID]bool{}, bindParents: map[mmsb.PageID][]mmsb.PageID{}}
	var specs []mmsb.PageSpec
	add := func(k stKind, n, size int) {
		for i := 0; i < n; i++ {
			m.kinds = append(m.kinds, k)
			specs = append(specs, mmsb.PageSpec{Size: size,
				Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(k.String())}}})
		}
	}
	add(kindF64, stF64Pages, stF64Size)
	add(kindI64, stI64Pages, stI64Size)
	add(kindBool, stBoolPages, stBoolSize)
	specs = append(specs, mmsb.PageSpec{Size: stF64Size,
		Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}})
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] != 1 || ids[len(ids)-1] != stPool+1 {
		t.Fatalf("created pages %d..%d, want 1..%d", ids[0], ids[len(ids)-1], stPool+1)
	}
	sentinel := mmsb.PageID(stPool + 1)

	// The invariant validator, every stCheck ticks, plus the control's
	// user invariant (registered in both runs, so that both run the same
	// checks; it only fails when the control asks it to).
	cycle := 0
	iv := validate.NewInvariants()
	if err := iv.Register("user.fails-at-cycle", func(*mmsb.Bus) error {
		if cfg.injectUsr != 0 && cycle == cfg.injectUsr {
			return fmt.Errorf("injected failure at cycle %d", cycle)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var viol []stViolation
	if err := iv.Attach(o, stCheck, validate.Options{}, func(r validate.Report) {
		c.checks++
		for _, p := range r.Problems {
			viol = append(viol, stViolation{tick: uint64(cycle), p: p})
		}
		c.violations += int(r.Total)
	}); err != nil {
		t.Fatal(err)
	}

	pick := func(k stKind) mmsb.PageID {
		for {
			id := mmsb.PageID(1 + rng.IntN(stPool))
			if m.kinds[id-1] == k {
				return id
			}
		}
	}
	sameGraph := func() {
		t.Helper()
		got := e.Edges()
		if !slices.Equal(got, m.edges) {
			t.Fatalf("cycle %d: engine has %d edges, the model %d: engine %v, model %v", cycle, len(got), len(m.edges), got, m.edges)
		}
		var bound []mmsb.PageID
		for id := mmsb.PageID(1); id <= stPool; id++ {
			if m.bound[id] {
				bound = append(bound, id)
			}
		}
		if got := e.Bindings(); !slices.Equal(got, bound) {
			t.Fatalf("cycle %d: engine bindings %v, model %v", cycle, got, bound)
		}
	}
	// refused checks that a refused operation changed nothing.
	refused := func(what string, err error, want error, lsn mmsb.LSN, edges []mmsb.Edge) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("cycle %d: %s: got %v, want %v", cycle, what, err, want)
		}
		if got := e.LastLSN(); got != lsn {
			t.Fatalf("cycle %d: refused %s logged something (LSN %d -> %d)", cycle, what, lsn, got)
		}
		if got := e.Edges(); !slices.Equal(got, edges) {
			t.Fatalf("cycle %d: refused %s changed the graph", cycle, what)
		}
	}

	var ds []delta.Delta
	for cycle = 1; cycle <= cfg.cycles; cycle++ {
		// Graph mutations: 1..3 per cycle.
		for n := 1 + rng.IntN(3); n > 0; n-- {
			lsn := e.LastLSN()
			switch op := rng.IntN(10); {
			case op < 3: // add an edge of a random type between random pages
				ed := mmsb.Edge{Parent: mmsb.PageID(1 + rng.IntN(stPool)), Child: mmsb.PageID(1 + rng.IntN(stPool)),
					Type: mmsb.EdgeType(rng.IntN(base.NumEdgeTypes))}
				if len(m.edges) >= stMaxEdges {
					continue
				}
				// A Data edge into a derived page from a page that is not
				// one of its binding's parents is refused by the engine
				// (ErrPageInUse; see TestDataEdgesMatchBindings): the
				// workload adds raw Data edges only into pages that are
				// not bound, and binds only pages without raw Data edges.
				if ed.Type == mmsb.EdgeData && m.bound[ed.Child] && !m.reaches(ed.Child, ed.Parent) {
					ed.Type = mmsb.EdgeControl
				}
				err := e.AddEdge(ctx, ed.Parent, ed.Child, ed.Type)
				if m.reaches(ed.Child, ed.Parent) {
					refused(fmt.Sprintf("edge %v closing a cycle", ed), err, mmsb.ErrCycle, lsn, m.edges)
					c.cyclesRefused++
					continue
				}
				if err != nil {
					t.Fatalf("cycle %d: add edge %v: %v", cycle, ed, err)
				}
				m.addEdge(ed)
				c.edgesAdded++
			case op < 5: // a deliberate cycle: edge from a descendant back to its ancestor
				if len(m.edges) == 0 {
					continue
				}
				ed := m.edges[rng.IntN(len(m.edges))]
				// Walk down from the child a few steps to make longer cycles.
				tail := ed.Child
				for k := rng.IntN(4); k > 0; k-- {
					i, _ := slices.BinarySearchFunc(m.edges, mmsb.Edge{Parent: tail}, edgeCmp)
					j := i
					for j < len(m.edges) && m.edges[j].Parent == tail {
						j++
					}
					if j == i {
						break
					}
					tail = m.edges[i+rng.IntN(j-i)].Child
				}
				back := mmsb.EdgeType(rng.IntN(base.NumEdgeTypes))
				err := e.AddEdge(ctx, tail, ed.Parent, back)
				refused(fmt.Sprintf("back edge %d -> %d (%v)", tail, ed.Parent, back), err, mmsb.ErrCycle, lsn, m.edges)
				var ce *graph.CycleError
				if !errors.As(err, &ce) || len(ce.Path) < 2 {
					t.Fatalf("cycle %d: cycle refusal %v does not name the cycle", cycle, err)
				}
				c.cyclesRefused++
			case op < 7: // remove a random edge
				if len(m.edges) == 0 || len(m.edges) < stMaxEdges/2 && rng.IntN(2) == 0 {
					continue
				}
				ed := m.edges[rng.IntN(len(m.edges))]
				err := e.RemoveEdge(ctx, ed.Parent, ed.Child, ed.Type)
				if m.ownedByBinding(ed) {
					refused(fmt.Sprintf("removal of binding edge %v", ed), err, mmsb.ErrPageInUse, lsn, m.edges)
					c.removeRefused++
					continue
				}
				if err != nil {
					t.Fatalf("cycle %d: remove edge %v: %v", cycle, ed, err)
				}
				m.removeEdge(ed)
				c.edgesRemoved++
			case op < 9: // bind an unbound page to a built-in over parents of its type
				if len(m.bound) >= stMaxBound {
					continue
				}
				child := mmsb.PageID(1 + rng.IntN(stPool))
				if m.bound[child] || m.hasDataIn(child) {
					continue
				}
				k := m.kinds[child-1]
				fn := stFuncs[k][rng.IntN(len(stFuncs[k]))]
				np := 1
				if fn != "passthrough" {
					np = 1 + rng.IntN(3)
				}
				var parents []mmsb.PageID
				for len(parents) < np {
					if p := pick(k); p != child && !slices.Contains(parents, p) {
						parents = append(parents, p)
					}
				}
				params := stParams(fn, np)
				err := e.Bind(ctx, child, fn, params, parents)
				cyc := false
				for _, p := range parents {
					cyc = cyc || m.reaches(child, p)
				}
				if cyc {
					refused(fmt.Sprintf("binding of %d to %s%v closing a cycle", child, fn, parents), err, mmsb.ErrCycle, lsn, m.edges)
					c.bindCyclesRefused++
					continue
				}
				if err != nil {
					t.Fatalf("cycle %d: bind %d = %s%v: %v", cycle, child, fn, parents, err)
				}
				m.bound[child] = true
				m.bindParents[child] = parents
				for _, p := range parents {
					m.addEdge(mmsb.Edge{Parent: p, Child: child, Type: mmsb.EdgeData})
				}
				c.binds++
			default: // unbind a random derived page, or clear a page's flags
				if len(m.bound) == 0 || len(m.bound) < stMaxBound/2 && rng.IntN(2) == 0 {
					id := mmsb.PageID(1 + rng.IntN(stPool))
					if err := e.ClearFlags(ctx, id, mmsb.FlagStale|mmsb.FlagSyncPending|mmsb.FlagIRInvalid); err != nil {
						t.Fatalf("cycle %d: clear flags of %d: %v", cycle, id, err)
					}
					c.flagClears++
					continue
				}
				child := mmsb.PageID(1 + rng.IntN(stPool))
				for !m.bound[child] {
					child = child%stPool + 1
				}
				if err := e.Unbind(ctx, child); err != nil {
					t.Fatalf("cycle %d: unbind %d: %v", cycle, child, err)
				}
				for _, p := range m.bindParents[child] {
					m.removeEdge(mmsb.Edge{Parent: p, Child: child, Type: mmsb.EdgeData})
				}
				delete(m.bound, child)
				delete(m.bindParents, child)
				c.unbinds++
			}
		}

		// Deltas to source pages; one in ten cycles adds an invalid one
		// (out of range, or to a page that does not exist), which the tick
		// must reject alone.
		ds = ds[:0]
		for n := 1 + rng.IntN(24); n > 0; n-- {
			id := mmsb.PageID(1 + rng.IntN(stPool))
			if m.bound[id] {
				continue
			}
			ds = append(ds, stDelta(rng, id, m.kinds[id-1]))
		}
		invalid := 0
		if rng.IntN(10) == 0 {
			bad := stDelta(rng, mmsb.PageID(1+rng.IntN(stPool)), kindI64)
			if rng.IntN(2) == 0 {
				bad.Runs[0].Offset = uint32(stF64Size + rng.IntN(64)) // past every pool page
			} else {
				bad.Page = stPool + 100 // no such page
			}
			ds = append(ds, bad)
			invalid = 1
		}
		if cfg.injectNaN != 0 && cycle == cfg.injectNaN {
			ds = append(ds, delta.Delta{Page: sentinel, Source: "stress.inject",
				Runs: []delta.Run{{Offset: 24, Data: semiring.AppendF64(nil, math.NaN())}}})
		}
		if cfg.injectNaN != 0 && cycle == cfg.injectNaN+1 {
			ds = append(ds, delta.Delta{Page: sentinel, Source: "stress.repair",
				Runs: []delta.Run{{Offset: 24, Data: semiring.AppendF64(nil, 1)}}})
		}
		for i := range ds {
			if err := o.Submit(ctx, &ds[i]); err != nil {
				t.Fatalf("cycle %d: submit: %v", cycle, err)
			}
		}
		c.submitted += len(ds)
		c.invalid += invalid

		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatalf("cycle %d: tick: %v", cycle, err)
		}
		if r.Tick != uint64(cycle) {
			t.Fatalf("cycle %d: tick number %d", cycle, r.Tick)
		}
		if r.Rejected != invalid || r.Committed != len(ds)-invalid {
			t.Fatalf("cycle %d: committed %d, rejected %d (%v); want %d and %d", cycle, r.Committed, r.Rejected,
				r.Rejections, len(ds)-invalid, invalid)
		}
		c.committed += r.Committed
		c.rejected += r.Rejected
		c.recomputed += r.Propagation.Recomputed
		c.derived += len(r.Propagation.Writes)
		if e.Pending() != 0 {
			t.Fatalf("cycle %d: %d dirty pages left after an immediate-mode tick", cycle, e.Pending())
		}
		if cycle%stCheck == 0 {
			if r.InvariantsRun != 1 {
				t.Fatalf("cycle %d: %d invariant hooks ran, want 1", cycle, r.InvariantsRun)
			}
			sameGraph()
		}
	}
	sameGraph()
	if c.cyclesRefused == 0 || c.bindCyclesRefused == 0 || c.binds == 0 || c.unbinds == 0 || c.removeRefused == 0 {
		t.Errorf("workload did not exercise everything: %+v", c)
	}

	// The whole history must replay, and the offline validators agree.
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil {
		t.Fatalf("verify replay: %v", err)
	}
	if !rep.Equal() {
		t.Errorf("replay differs: %d pages, %d bytes, graph equal %v: %v", rep.PagesDiffering, rep.BytesDiffering, rep.GraphEqual, rep.Differences)
	}
	for _, v := range []struct {
		name string
		fn   validate.Func
	}{{"graph", validate.Graph}, {"integrity", validate.Integrity}, {"purity", validate.Purity}} {
		r, err := v.fn(ctx, validate.Live(e), validate.Options{})
		if err != nil {
			t.Fatalf("%s validator: %v", v.name, err)
		}
		if !r.OK() {
			t.Errorf("%s validator: %v", v.name, r.Err())
		}
	}
	mt := o.Metrics()
	figure(t, "stability_ticks", "ticks", mt.Ticks, "p50", mt.Phases[tick.PhaseTotal].P50,
		"p99", mt.Phases[tick.PhaseTotal].P99, "max", mt.Phases[tick.PhaseTotal].Max,
		"edges", len(m.edges), "bindings", len(m.bound), "last_lsn", e.LastLSN())
	return c, viol
}

// stParams returns a binding's params for fn with np parents.
func stParams(fn string, np int) []byte {
	switch fn {
	case "f64.weighted":
		ws := make([]float64, np)
		for i := range ws {
			ws[i] = 1 / float64(np+1) // sum < 1: contracting, never overflows
		}
		return semiring.AppendF64(nil, ws...)
	case "f64.minplus", "f64.maxplus":
		ws := make([]float64, np)
		for i := range ws {
			ws[i] = 0.5 * float64(i) // grows by at most 1 per level of a finite DAG
		}
		return semiring.AppendF64(nil, ws...)
	case "bool.reach":
		ws := make([]byte, np)
		for i := range ws {
			ws[i] = byte(i % 2)
		}
		if np > 0 {
			ws[0] = 1
		}
		return ws
	}
	return nil
}

// stDelta is a random valid write for a page of kind k: whole elements of
// finite values (or 0/1 bytes for bool pages).
func stDelta(rng *rand.Rand, id mmsb.PageID, k stKind) delta.Delta {
	var data []byte
	var off int
	switch k {
	case kindF64:
		n := 1 + rng.IntN(4)
		off = 8 * rng.IntN(stF64Size/8-n+1)
		for i := 0; i < n; i++ {
			data = semiring.AppendF64(data, rng.Float64()*2000-1000)
		}
	case kindI64:
		n := 1 + rng.IntN(4)
		off = 8 * rng.IntN(stI64Size/8-n+1)
		for i := 0; i < n; i++ {
			data = append(data, byte(rng.Uint32()), byte(rng.Uint32()), 0, 0, 0, 0, 0, byte(rng.IntN(2)))
		}
	case kindBool:
		n := 1 + rng.IntN(8)
		off = rng.IntN(stBoolSize - n + 1)
		for i := 0; i < n; i++ {
			data = append(data, byte(rng.IntN(2)))
		}
	}
	return delta.Delta{Page: id, Source: "stress", Runs: []delta.Run{{Offset: uint32(off), Data: data}}}
}
