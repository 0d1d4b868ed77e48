// Package base holds the scalar identifiers shared by every internal MMSB
// package.
//
// PageID, LSN and Epoch are defined by the public delta package (a delta
// names its page, expected epoch and LSN); they are aliased here so that the
// leaf packages keep one short import. Location and EdgeType are internal
// codes; the root package defines the public types and converts at its
// boundary.
package base

import "github.com/mmsb-go/mmsb/delta"

type (
	// PageID is delta.PageID.
	PageID = delta.PageID
	// LSN is delta.LSN.
	LSN = delta.LSN
	// Epoch is delta.Epoch.
	Epoch = delta.Epoch
)

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
