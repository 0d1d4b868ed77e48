// Package base holds the scalar identifiers shared by every MMSB package.
//
// They live in their own leaf package so that internal packages can share
// them without importing the public root package (which imports them).
package base

// PageID identifies a page. ID 0 is never a valid page: it means "assign one".
type PageID uint64

// LSN is a log sequence number: the position of a logged operation in the
// bus's single total order. The first operation ever logged has LSN 1; LSN 0
// means "nothing".
type LSN uint64

// Epoch is a page's version: 0 at creation, +1 for every delta applied to it.
type Epoch uint64

// Location says where a page's bytes live. Only CPU is implemented; GPU and
// Unified are reserved for device backends and rejected today.
type Location uint8

// Page locations.
const (
	LocationCPU     Location = 0
	LocationGPU     Location = 1
	LocationUnified Location = 2
)

// String returns the location's lower-case name.
func (l Location) String() string {
	switch l {
	case LocationCPU:
		return "cpu"
	case LocationGPU:
		return "gpu"
	case LocationUnified:
		return "unified"
	}
	return "unknown"
}

// EdgeType is the kind of a dependency edge parent -> child.
type EdgeType uint8

// Edge types. Data edges drive recomputation; the others set flags on the
// child and emit events.
const (
	EdgeData     EdgeType = 0
	EdgeControl  EdgeType = 1
	EdgeGPUSync  EdgeType = 2
	EdgeCompiler EdgeType = 3
	// NumEdgeTypes is the number of edge types.
	NumEdgeTypes = 4
)

// String returns the edge type's lower-case name.
func (t EdgeType) String() string {
	switch t {
	case EdgeData:
		return "data"
	case EdgeControl:
		return "control"
	case EdgeGPUSync:
		return "gpu-sync"
	case EdgeCompiler:
		return "compiler"
	}
	return "unknown"
}

// MaxPageSize is the largest page the store accepts (16 MiB).
const MaxPageSize = 16 << 20
