package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

func TestGraphSummary(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "graph", "--json", tb.dir).mustCode(t, exitOK)
	var s graphSummary
	r.decodeJSON(t, &s)
	want := map[string]int{"data": 1, "control": 1, "gpu-sync": 1, "compiler": 0}
	for k, v := range want {
		if s.EdgesByType[k] != v {
			t.Errorf("edges_by_type[%s] = %d, want %d", k, s.EdgesByType[k], v)
		}
	}
	if s.Pages != 5 || s.PagesWithEdges != 4 || s.Edges != 3 || s.Bindings != 1 || s.BindingsByFunction["passthrough"] != 1 ||
		s.LongestChain != 3 || !slices.Equal(s.LongestChainPages, []uint64{1, 2, 3, 4}) || !slices.Equal(s.Roots, []uint64{1}) ||
		s.LSN != uint64(tb.lastLSN) {
		t.Fatalf("%+v", s)
	}
	r = runCLI(t, "graph", tb.dir).mustCode(t, exitOK)
	for _, want := range []string{"longest chain     3 (1 -> 2 -> 3 -> 4)", "roots             1: 1", "passthrough", "gpu-sync"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestGraphDOT(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "graph", "--dot", tb.dir).mustCode(t, exitOK)
	const want = `digraph mmsb {
  rankdir=LR;
  node [shape=ellipse];
  "1";
  "2";
  "3" [shape=box, label="3\npassthrough"];
  "4";
  "1" -> "2" [label="control", style=dashed];
  "2" -> "3" [label="data", style=solid];
  "3" -> "4" [label="gpu-sync", style=dotted];
}
`
	if r.stdout != want {
		t.Fatalf("DOT output:\n%s\nwant:\n%s", r.stdout, want)
	}
	runCLI(t, "graph", "--dot", "--json", tb.dir).mustCode(t, exitUsage)
}

func TestSummariseGraph(t *testing.T) {
	e := func(p, c mmsb.PageID, typ mmsb.EdgeType) mmsb.Edge { return mmsb.Edge{Parent: p, Child: c, Type: typ} }
	tests := []struct {
		name     string
		edges    []mmsb.Edge
		bindings map[mmsb.PageID]string
		chain    []uint64
		roots    []uint64
		withEdge int
	}{
		{"empty", nil, nil, []uint64{}, []uint64{}, 0},
		{"two types one step", []mmsb.Edge{e(1, 2, mmsb.EdgeData), e(1, 2, mmsb.EdgeControl)}, map[mmsb.PageID]string{2: "f"},
			[]uint64{1, 2}, []uint64{1}, 2},
		{"diamond picks smallest", []mmsb.Edge{e(5, 7, 0), e(1, 3, 0), e(1, 2, 0), e(2, 4, 0), e(3, 4, 0), e(4, 9, 1)}, nil,
			[]uint64{1, 2, 4, 9}, []uint64{1, 5}, 7},
		{"unsorted input", []mmsb.Edge{e(3, 4, 0), e(2, 3, 0), e(1, 2, 0)}, nil, []uint64{1, 2, 3, 4}, []uint64{1}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := summariseGraph(tc.edges, tc.bindings)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.LongestChainPages, tc.chain) || s.LongestChain != max(len(tc.chain)-1, 0) ||
				!slices.Equal(s.Roots, tc.roots) || s.PagesWithEdges != tc.withEdge || s.Edges != len(tc.edges) {
				t.Fatalf("%+v", s)
			}
		})
	}
	_, err := summariseGraph([]mmsb.Edge{e(1, 2, 0), e(2, 3, 0), e(3, 1, 0), e(3, 4, 0)}, nil)
	if !errors.Is(err, errGraphCycle) || !strings.Contains(err.Error(), "1, 2, 3, 4") {
		t.Fatalf("cycle: %v", err)
	}
}

func TestWriteDOTDeterministic(t *testing.T) {
	edges := []mmsb.Edge{{Parent: 3, Child: 4, Type: mmsb.EdgeCompiler}, {Parent: 1, Child: 3}, {Parent: 1, Child: 2}}
	bindings := map[mmsb.PageID]string{3: `we"ird\fn`, 2: "a", 9: "lonely"}
	var first string
	for i := 0; i < 20; i++ {
		var b strings.Builder
		if err := writeDOT(&b, edges, bindings); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b.String()
		} else if b.String() != first {
			t.Fatalf("DOT output changed between runs:\n%s\n%s", first, b.String())
		}
	}
	for _, want := range []string{`"3" [shape=box, label="3\nwe\"ird\\fn"];`, `"9" [shape=box`, `"1" -> "2"`, `style=bold`} {
		if !strings.Contains(first, want) {
			t.Errorf("DOT lacks %q:\n%s", want, first)
		}
	}
	if strings.Index(first, `"1" -> "2"`) > strings.Index(first, `"1" -> "3"`) {
		t.Error("edges not in (parent, child) order")
	}
}

// TestGraphCycleSameInBothOutputs: a cyclic edge list (the bus refuses
// cycles, and replay refuses a log or checkpoint that would close one, so
// only a graph built some other way can hold one) is refused the same way
// by the summary and by --dot: an errGraphCycle naming the cycle itself,
// and no DOT written.
func TestGraphCycleSameInBothOutputs(t *testing.T) {
	edges := []mmsb.Edge{{Parent: 1, Child: 2}, {Parent: 2, Child: 3}, {Parent: 3, Child: 1}, {Parent: 3, Child: 4}, {Parent: 5, Child: 1}}
	const cycle = "1 -> 2 -> 3 -> 1"
	_, sumErr := summariseGraph(edges, nil)
	var b strings.Builder
	dotErr := writeDOT(&b, edges, nil)
	for name, err := range map[string]error{"summary": sumErr, "dot": dotErr} {
		if !errors.Is(err, errGraphCycle) || !strings.Contains(fmt.Sprint(err), cycle) {
			t.Errorf("%s: error %v, want %v naming %s", name, err, errGraphCycle, cycle)
		}
	}
	if b.Len() != 0 {
		t.Errorf("--dot wrote a cyclic graph:\n%s", b.String())
	}
	if fmt.Sprint(sumErr) != fmt.Sprint(dotErr) {
		t.Errorf("the outputs report the cycle differently:\nsummary: %v\ndot:     %v", sumErr, dotErr)
	}
}
