package validate

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestGraphProblemKinds: one hand-made GraphView per problem the graph
// validator reports, each of which must come with its kind. Edges and
// bindings that name a missing page are "unresolved" (the kind documented
// for them); they were reported as "orphan", the integrity validator's
// kind for a logged operation on a page missing at its LSN, which the
// harness counts as orphan deltas.
func TestGraphProblemKinds(t *testing.T) {
	pages := map[mmsb.PageID]int{1: 8, 2: 8, 3: 8, 4: 8}
	has := func(n string) bool { return n == "passthrough" }
	bind := func(id mmsb.PageID, fn string, parents ...mmsb.PageID) map[mmsb.PageID]mmsb.Binding {
		return map[mmsb.PageID]mmsb.Binding{id: {Func: fn, Parents: parents}}
	}
	tests := []struct {
		name string
		v    GraphView
		want string
		kind ProblemKind
		page mmsb.PageID
	}{
		{"missing edge parent", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 9, Child: 1}}},
			"edge parent 9 does not exist", KindUnresolved, 9},
		{"missing edge child", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 9}}},
			"edge child 9 does not exist", KindUnresolved, 9},
		{"self-loop", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 2, Child: 2}}},
			"self-loop on page 2", KindCycle, 2},
		{"unknown edge type", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2, Type: 200}}},
			"unknown edge type 200", KindSchema, 2},
		{"cycle", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2}, {Parent: 2, Child: 1}}},
			"not acyclic", KindCycle, 0},
		{"missing bound page", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 9, Type: mmsb.EdgeData}},
			Bindings: bind(9, "passthrough", 1)}, "bound page 9 does not exist", KindUnresolved, 9},
		{"unregistered function", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2, Type: mmsb.EdgeData}},
			Bindings: bind(2, "nope", 1)}, `function "nope" is not registered`, KindUnknownFunc, 2},
		{"binding without parents", GraphView{Pages: pages, HasFunc: has, Bindings: bind(2, "passthrough")},
			"binding has no parents", KindUnresolved, 2},
		{"missing parent", GraphView{Pages: pages, HasFunc: has, Bindings: bind(2, "passthrough", 5)},
			"parent 5 does not exist", KindUnresolved, 2},
		{"data edges differ from the binding", GraphView{Pages: pages, HasFunc: has,
			Edges:    []mmsb.Edge{{Parent: 1, Child: 2, Type: mmsb.EdgeData}, {Parent: 3, Child: 2, Type: mmsb.EdgeData}},
			Bindings: bind(2, "passthrough", 1)}, "data edges into page 2 come from [1 3]", KindUnresolved, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireKind(t, CheckGraphView(tc.v, Options{}), nil, tc.want, tc.kind, tc.page)
		})
	}
	// The same view without the fault passes.
	clean := GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2, Type: mmsb.EdgeData}, {Parent: 3, Child: 4}},
		Bindings: bind(2, "passthrough", 1)}
	if rep := CheckGraphView(clean, Options{}); !rep.OK() {
		t.Fatalf("clean view: %v", problemTexts(rep))
	}
}

// TestInvariantsEpochMonotonicKinds: the epoch-monotonic rules besides an
// epoch going back (TestInvariantsNegativeControls), each fed through a
// previous-run snapshot that the live page contradicts: an epoch that
// changed while the last write stayed, and a last write that went back.
func TestInvariantsEpochMonotonicKinds(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	src, _ := populate(t, e, 6, 2)
	info, err := e.Page(src[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		prev pageSnap
		want string
	}{
		{"epoch changed without a write", pageSnap{epoch: info.Epoch - 1, last: info.LastLSN},
			fmt.Sprintf("page %d epoch changed from %d to %d without a write", src[0], info.Epoch-1, info.Epoch)},
		{"last write went back", pageSnap{epoch: info.Epoch, last: info.LastLSN + 100},
			fmt.Sprintf("page %d last write went back from LSN %d to %d", src[0], info.LastLSN+100, info.LastLSN)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv := NewInvariants()
			rep, err := iv.Check(ctx, e, Options{})
			requireOK(t, rep, err)
			iv.prev[src[0]] = tc.prev
			rep, err = iv.Check(ctx, e, Options{})
			requireKind(t, rep, err, tc.want, KindEpoch, src[0])
		})
	}
}
