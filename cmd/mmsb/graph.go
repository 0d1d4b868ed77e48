package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
)

// errGraphCycle: the replayed graph is not acyclic (the bus refuses
// cycles, so this means damaged files).
var errGraphCycle = errors.New("dependency graph has a cycle")

// graphSummary is what `mmsb graph --json` prints.
type graphSummary struct {
	Dir                string         `json:"dir"`
	LSN                uint64         `json:"lsn"`
	Pages              int            `json:"pages"`
	PagesWithEdges     int            `json:"pages_with_edges"`
	Edges              int            `json:"edges"`
	EdgesByType        map[string]int `json:"edges_by_type"`
	Bindings           int            `json:"bindings"`
	BindingsByFunction map[string]int `json:"bindings_by_function"`
	// LongestChain is the number of edges on the longest path; the path
	// itself, root first, is LongestChainPages.
	LongestChain      int      `json:"longest_chain"`
	LongestChainPages []uint64 `json:"longest_chain_pages"`
	// Roots are pages with outgoing edges and no incoming ones, ascending.
	Roots []uint64 `json:"roots"`
}

// edgeTypes lists every edge type in a fixed order for output.
var edgeTypes = []mmsb.EdgeType{mmsb.EdgeData, mmsb.EdgeControl, mmsb.EdgeGPUSync, mmsb.EdgeCompiler}

// dotStyle is the Graphviz line style of each edge type, so that the types
// stay distinguishable without colour.
var dotStyle = map[mmsb.EdgeType]string{
	mmsb.EdgeData: "solid", mmsb.EdgeControl: "dashed", mmsb.EdgeGPUSync: "dotted", mmsb.EdgeCompiler: "bold",
}

// maxRootsShown caps the roots listed in text output (JSON lists all).
const maxRootsShown = 20

func (a *app) graphCmd() *cobra.Command {
	var jsonOut, dot bool
	cmd := &cobra.Command{
		Use:   "graph DIR",
		Short: "Summarise the dependency graph of a data directory, or print it as DOT",
		Long: `graph rebuilds the state of DIR (newest checkpoint plus the log tail, without
taking the write lock) and summarises its dependency graph: pages touching an
edge, edges by type (data, control, gpu-sync, compiler), derived pages by
recompute function, the longest dependency chain (in edges, with its pages)
and the roots (pages with children and no parents).

--dot prints the graph in Graphviz DOT instead: one node per page that has an
edge or a binding, in ascending ID order; edges in (parent, child, type)
order, labelled with their type and styled by it (data solid, control
dashed, gpu-sync dotted, compiler bold); derived pages are boxes labelled with
their function. The output is deterministic: the same state gives the same
bytes.`,
		Example: `  mmsb graph ./data
  mmsb graph --json ./data
  mmsb graph --dot ./data | dot -Tsvg > graph.svg`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if jsonOut && dot {
				return usageErr("--json and --dot exclude each other")
			}
			return a.runGraph(cmd.Context(), args[0], jsonOut, dot)
		},
	}
	cmd.Flags().BoolVar(&dot, "dot", false, "print Graphviz DOT instead of a summary")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print the summary as one JSON object")
	return cmd
}

func (a *app) runGraph(ctx context.Context, dir string, jsonOut, dot bool) error {
	if err := requireDataDir(dir); err != nil {
		return err
	}
	if err := requireBusFiles(dir, ""); err != nil {
		return err
	}
	// Beside a running writer whose checkpoints remove old checkpoints and
	// segments, a replay that listed them before the removal failed
	// ("tlog: open .../wal/...log: no such file or directory"): it runs
	// again when the files changed, as check's and replay's do.
	st, err := replayBesideWriter(ctx, filesFS, dir, mmsb.ReplayTarget{}, nil)
	if err != nil {
		return interrupted(ctx, "graph of "+dir, replayFailed(dir, err))
	}
	defer st.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	a.noteMissingLog(dir)
	a.noteSkippedCheckpoints(st.Recovery(), "run `mmsb check "+termText(dir)+"`")
	edges := st.Edges()
	bindings := map[mmsb.PageID]string{}
	for _, id := range st.Bindings() {
		if b, ok := st.Binding(id); ok {
			bindings[id] = b.Func
		}
	}
	if dot {
		return writeDOT(a.stdout, edges, bindings)
	}
	sum, err := summariseGraph(edges, bindings)
	if err != nil {
		return err
	}
	sum.Dir, sum.LSN, sum.Pages = dir, uint64(st.LastLSN()), st.Stats().Pages
	if jsonOut {
		return a.printJSON(sum)
	}
	a.printGraph(sum)
	return nil
}

// summariseGraph computes the summary of an edge list (in the engine's
// (parent, child, type) order) and the bindings.
func summariseGraph(edges []mmsb.Edge, bindings map[mmsb.PageID]string) (*graphSummary, error) {
	if err := checkAcyclic(edges); err != nil {
		return nil, err
	}
	s := &graphSummary{Edges: len(edges), EdgesByType: map[string]int{}, Bindings: len(bindings),
		BindingsByFunction: map[string]int{}, LongestChainPages: []uint64{}, Roots: []uint64{}}
	for _, t := range edgeTypes {
		s.EdgesByType[t.String()] = 0
	}
	for _, fn := range bindings {
		s.BindingsByFunction[fn]++
	}
	// Adjacency over distinct (parent, child) pairs: several edge types
	// between the same pages are one step of a chain.
	indeg := map[mmsb.PageID]int{}
	children := map[mmsb.PageID][]mmsb.PageID{}
	var nodes []mmsb.PageID
	seen := map[mmsb.PageID]bool{}
	addNode := func(id mmsb.PageID) {
		if !seen[id] {
			seen[id] = true
			nodes = append(nodes, id)
		}
	}
	edges = sortedEdges(edges)
	for i, e := range edges {
		s.EdgesByType[e.Type.String()]++
		addNode(e.Parent)
		addNode(e.Child)
		if i > 0 && edges[i-1].Parent == e.Parent && edges[i-1].Child == e.Child {
			continue
		}
		children[e.Parent] = append(children[e.Parent], e.Child)
		indeg[e.Child]++
	}
	slices.Sort(nodes)
	s.PagesWithEdges = len(nodes)

	// Kahn's algorithm from the roots in ascending order: depth is the
	// longest path ending at a node, pred the parent it came through.
	depth := make(map[mmsb.PageID]int, len(nodes))
	pred := make(map[mmsb.PageID]mmsb.PageID, len(nodes))
	queue := make([]mmsb.PageID, 0, len(nodes))
	for _, id := range nodes {
		if indeg[id] == 0 {
			queue = append(queue, id)
			if len(children[id]) > 0 {
				s.Roots = append(s.Roots, uint64(id))
			}
		}
	}
	left := copyDegrees(indeg)
	for i := 0; i < len(queue); i++ {
		p := queue[i]
		for _, c := range children[p] {
			if d := depth[p] + 1; d > depth[c] || d == depth[c] && p < pred[c] {
				depth[c], pred[c] = d, p
			}
			left[c]--
			if left[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(queue) != len(nodes) {
		// checkAcyclic passed, so Kahn's algorithm cannot stall.
		return nil, fmt.Errorf("%w: topological walk stalled", errGraphCycle)
	}
	var end mmsb.PageID
	for _, id := range nodes {
		if depth[id] > s.LongestChain {
			s.LongestChain, end = depth[id], id
		}
	}
	if s.LongestChain > 0 {
		for id := end; ; id = pred[id] {
			s.LongestChainPages = append(s.LongestChainPages, uint64(id))
			if depth[id] == 0 {
				break
			}
		}
		slices.Reverse(s.LongestChainPages)
	}
	return s, nil
}

// checkAcyclic returns an errGraphCycle naming one cycle of the edges
// (found deterministically: depth-first from the smallest page, children
// ascending) and the pages on or below a cycle, or nil. The bus and replay
// refuse cycles, so this guards against a state built some other way; both
// outputs of graph call it, so they report a cycle alike.
func checkAcyclic(edges []mmsb.Edge) error {
	children := map[mmsb.PageID][]mmsb.PageID{}
	indeg := map[mmsb.PageID]int{}
	var nodes []mmsb.PageID
	seen := map[mmsb.PageID]bool{}
	edges = sortedEdges(edges)
	for i, e := range edges {
		for _, id := range []mmsb.PageID{e.Parent, e.Child} {
			if !seen[id] {
				seen[id] = true
				nodes = append(nodes, id)
			}
		}
		if i > 0 && edges[i-1].Parent == e.Parent && edges[i-1].Child == e.Child {
			continue
		}
		children[e.Parent] = append(children[e.Parent], e.Child)
		indeg[e.Child]++
	}
	slices.Sort(nodes)
	// Kahn's algorithm: what it never reaches is on or below a cycle.
	var queue []mmsb.PageID
	for _, id := range nodes {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	for i := 0; i < len(queue); i++ {
		for _, c := range children[queue[i]] {
			if indeg[c]--; indeg[c] == 0 {
				queue = append(queue, c)
			}
		}
	}
	if len(queue) == len(nodes) {
		return nil
	}
	var stuck []string
	for _, id := range nodes {
		if indeg[id] > 0 && len(stuck) < 10 {
			stuck = append(stuck, fmt.Sprint(id))
		}
	}
	return fmt.Errorf("%w: %s (pages on or below a cycle: %s)", errGraphCycle, findCycle(nodes, children), strings.Join(stuck, ", "))
}

// findCycle returns one cycle of a graph that has one, as "a -> b -> a".
// The walk is iterative: a long dependency chain must not exhaust the
// stack.
func findCycle(nodes []mmsb.PageID, children map[mmsb.PageID][]mmsb.PageID) string {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[mmsb.PageID]int{}
	type frame struct {
		id   mmsb.PageID
		next int
	}
	for _, root := range nodes {
		if state[root] != unvisited {
			continue
		}
		path := []frame{{id: root}}
		state[root] = onPath
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(children[top.id]) {
				state[top.id] = done
				path = path[:len(path)-1]
				continue
			}
			c := children[top.id][top.next]
			top.next++
			switch state[c] {
			case unvisited:
				state[c] = onPath
				path = append(path, frame{id: c})
			case onPath:
				var ids []string
				for i := len(path) - 1; i >= 0; i-- {
					ids = append(ids, fmt.Sprint(path[i].id))
					if path[i].id == c {
						break
					}
				}
				slices.Reverse(ids)
				return strings.Join(append(ids, fmt.Sprint(c)), " -> ")
			}
		}
	}
	return "(none found)"
}

// copyDegrees returns a copy of an in-degree map.
func copyDegrees(m map[mmsb.PageID]int) map[mmsb.PageID]int {
	out := make(map[mmsb.PageID]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeDOT prints the graph in Graphviz DOT, deterministically. A cyclic
// graph is refused as the summary refuses it, before anything is written.
func writeDOT(w io.Writer, edges []mmsb.Edge, bindings map[mmsb.PageID]string) error {
	if err := checkAcyclic(edges); err != nil {
		return err
	}
	nodes := make([]mmsb.PageID, 0, len(bindings))
	seen := map[mmsb.PageID]bool{}
	add := func(id mmsb.PageID) {
		if !seen[id] {
			seen[id] = true
			nodes = append(nodes, id)
		}
	}
	for _, e := range edges {
		add(e.Parent)
		add(e.Child)
	}
	for id := range bindings {
		add(id)
	}
	slices.Sort(nodes)
	var b strings.Builder
	b.WriteString("digraph mmsb {\n  rankdir=LR;\n  node [shape=ellipse];\n")
	for _, id := range nodes {
		if fn, ok := bindings[id]; ok {
			fmt.Fprintf(&b, "  \"%d\" [shape=box, label=\"%d\\n%s\"];\n", id, id, dotEscape(fn))
		} else {
			fmt.Fprintf(&b, "  \"%d\";\n", id)
		}
	}
	for _, e := range sortedEdges(edges) {
		fmt.Fprintf(&b, "  \"%d\" -> \"%d\" [label=\"%s\", style=%s];\n", e.Parent, e.Child, e.Type, dotStyle[e.Type])
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// sortedEdges returns the edges in (parent, child, type) order (the
// engine already returns them so; sorting a copy keeps the output
// deterministic whatever the source).
func sortedEdges(edges []mmsb.Edge) []mmsb.Edge {
	out := slices.Clone(edges)
	slices.SortFunc(out, func(x, y mmsb.Edge) int {
		switch {
		case x.Parent != y.Parent:
			return cmpOrder(x.Parent < y.Parent)
		case x.Child != y.Child:
			return cmpOrder(x.Child < y.Child)
		case x.Type != y.Type:
			return cmpOrder(x.Type < y.Type)
		}
		return 0
	})
	return out
}

func cmpOrder(less bool) int {
	if less {
		return -1
	}
	return 1
}

// dotEscape escapes a string for a double-quoted DOT label. A character
// that does not print (a control or format character a function name may
// hold) is written as its Go escape (\x1b, \u202e), so that it reaches
// neither the terminal nor the drawing.
func dotEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case !unicode.IsPrint(r):
			q := strconv.QuoteRune(r) // '\x1b': the escape, its backslash escaped for DOT
			b.WriteString(`\` + q[1:len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (a *app) printGraph(s *graphSummary) {
	w := a.stdout
	fmt.Fprintf(w, "pages             %d (%d with edges), LSN %d\n", s.Pages, s.PagesWithEdges, s.LSN)
	fmt.Fprintf(w, "edges             %d\n", s.Edges)
	for _, t := range edgeTypes {
		fmt.Fprintf(w, "  %-16s%d\n", t.String(), s.EdgesByType[t.String()])
	}
	fmt.Fprintf(w, "bindings          %d\n", s.Bindings)
	fns := make([]string, 0, len(s.BindingsByFunction))
	for fn := range s.BindingsByFunction {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		fmt.Fprintf(w, "  %-16s%d\n", termText(fn), s.BindingsByFunction[fn])
	}
	chain := make([]string, len(s.LongestChainPages))
	for i, id := range s.LongestChainPages {
		chain[i] = fmt.Sprint(id)
	}
	fmt.Fprintf(w, "longest chain     %d", s.LongestChain)
	if len(chain) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(chain, " -> "))
	}
	fmt.Fprintln(w)
	roots := make([]string, 0, min(len(s.Roots), maxRootsShown))
	for i, id := range s.Roots {
		if i == maxRootsShown {
			break
		}
		roots = append(roots, fmt.Sprint(id))
	}
	more := ""
	if len(s.Roots) > maxRootsShown {
		more = fmt.Sprintf(" ... and %d more", len(s.Roots)-maxRootsShown)
	}
	fmt.Fprintf(w, "roots             %d", len(s.Roots))
	if len(roots) > 0 {
		fmt.Fprintf(w, ": %s%s", strings.Join(roots, " "), more)
	}
	fmt.Fprintln(w)
}
