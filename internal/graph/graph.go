// Package graph is the ShadowPageGraph: typed dependency edges parent ->
// child between pages, kept acyclic on every insert, with deterministic
// topological order (ties broken by page ID).
package graph

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/internal/base"
)

// ErrCycle: the edge would close a cycle (or is a self-loop).
var ErrCycle = errors.New("graph: cycle")

// CycleError names the pages of the cycle an edge would have closed:
// Path[0] is the child of the refused edge, Path[len-1] its parent, and each
// consecutive pair is an existing edge.
type CycleError struct {
	Parent, Child base.PageID
	Path          []base.PageID
}

func (e *CycleError) Error() string {
	return fmt.Sprintf("graph: edge %d -> %d would close cycle %v", e.Parent, e.Child, e.Path)
}

// Unwrap makes errors.Is(err, ErrCycle) true.
func (e *CycleError) Unwrap() error { return ErrCycle }

// Edge is a typed dependency.
type Edge struct {
	Parent, Child base.PageID
	Type          base.EdgeType
}

// Graph holds the edges. Not safe for concurrent mutation.
type Graph struct{}

// New returns an empty graph.
func New() *Graph { panic("todo") }

// AddEdge adds parent -> child of type t. Adding an identical edge again is
// a no-op (added=false). An edge that would close a cycle, including a
// self-loop, returns a *CycleError and leaves the graph unchanged. The
// check visits only the part of the graph reachable from child.
func (g *Graph) AddEdge(parent, child base.PageID, t base.EdgeType) (added bool, err error) {
	panic("todo")
}

// RemoveEdge removes parent -> child of type t; it reports whether it existed.
func (g *Graph) RemoveEdge(parent, child base.PageID, t base.EdgeType) bool { panic("todo") }

// RemoveEdges removes every edge parent -> child of any type; returns how many.
func (g *Graph) RemoveEdges(parent, child base.PageID) int { panic("todo") }

// RemovePage removes every edge into or out of id and returns them, sorted.
func (g *Graph) RemovePage(id base.PageID) []Edge { panic("todo") }

// HasEdges reports whether id has any edge.
func (g *Graph) HasEdges(id base.PageID) bool { panic("todo") }

// AppendChildren appends id's outgoing edges, sorted by (child, type).
func (g *Graph) AppendChildren(dst []Edge, id base.PageID) []Edge { panic("todo") }

// AppendParents appends id's incoming edges, sorted by (parent, type).
func (g *Graph) AppendParents(dst []Edge, id base.PageID) []Edge { panic("todo") }

// AppendDescendants appends every page reachable from any of roots (roots
// excluded unless reachable from another root) in deterministic topological
// order (among ready pages, smallest ID first). If types is non-nil only
// edges whose type is marked true are followed.
func (g *Graph) AppendDescendants(dst []base.PageID, roots []base.PageID, types *[base.NumEdgeTypes]bool) []base.PageID {
	panic("todo")
}

// TopoOrder returns all pages with edges in deterministic topological order.
func (g *Graph) TopoOrder() []base.PageID { panic("todo") }

// CheckAcyclic runs a full acyclicity check (Kahn's algorithm over the whole
// graph) and returns a *CycleError if the edges contain a cycle. The graph
// keeps itself acyclic; this is the validator's independent check.
func (g *Graph) CheckAcyclic() error { panic("todo") }

// Edges calls fn for every edge in (parent, child, type) order; it stops
// early if fn returns false.
func (g *Graph) Edges(fn func(Edge) bool) { panic("todo") }

// NumEdges returns the number of edges.
func (g *Graph) NumEdges() int { panic("todo") }

// NumNodes returns the number of pages with at least one edge.
func (g *Graph) NumNodes() int { panic("todo") }

// MemoryBytes estimates the graph's heap footprint.
func (g *Graph) MemoryBytes() int64 { panic("todo") }
