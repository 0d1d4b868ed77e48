package mmsb

import (
	"fmt"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// Identifiers, defined with the delta model in package delta.
type (
	// PageID identifies a page; 0 means "assign one".
	PageID = delta.PageID
	// LSN is a log sequence number: an operation's place in the total order.
	LSN = delta.LSN
	// Epoch is a page's version: +1 per applied delta.
	Epoch = delta.Epoch
)

// The delta model, defined in package delta (which also validates, merges,
// diffs and encodes deltas).
type (
	// Delta is a write to one page: sparse runs or a dense or sparse bit
	// mask plus payload.
	Delta = delta.Delta
	// Run is one contiguous write of a FormRuns delta.
	Run = delta.Run
	// Form is a delta's payload encoding.
	Form = delta.Form
)

// Delta forms.
const (
	FormRuns         = delta.FormRuns
	FormMaskedDense  = delta.FormMaskedDense
	FormMaskedSparse = delta.FormMaskedSparse
)

// TODO(api): define in the root.
type (
	Location      = base.Location
	EdgeType      = base.EdgeType
	Edge          = graph.Edge
	MetaEntry     = page.MetaEntry
	RecomputeFunc = semiring.Func
	SyncMode      = tlog.SyncMode
)

// Locations and edge types.
const (
	CPU          = base.LocationCPU
	GPU          = base.LocationGPU
	Unified      = base.LocationUnified
	EdgeData     = base.EdgeData
	EdgeControl  = base.EdgeControl
	EdgeGPUSync  = base.EdgeGPUSync
	EdgeCompiler = base.EdgeCompiler
	// MaxPageSize is the largest page size (16 MiB).
	MaxPageSize = base.MaxPageSize
)

// Sync modes.
const (
	SyncGroup  = tlog.SyncGroup
	SyncAlways = tlog.SyncAlways
	SyncNone   = tlog.SyncNone
)

// ParseSyncMode parses "group", "always" or "none".
func ParseSyncMode(s string) (SyncMode, error) { return tlog.ParseSyncMode(s) }

// Write returns a delta writing data at off of page id. off is a uint32,
// the type of a run offset, so that no offset can wrap on the way in.
func Write(id PageID, off uint32, data []byte) Delta {
	return Delta{Page: id, Runs: []Run{{Offset: off, Data: data}}}
}

// Merge returns a ⊕ b (b wins on overlap). Deltas to different pages are
// refused with an error wrapping ErrInvalidDelta and delta.ErrPageMismatch.
func Merge(a, b *Delta) (Delta, error) {
	m, err := delta.Merge(a, b)
	if err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrInvalidDelta, err)
	}
	return m, nil
}

// Diff returns the minimal delta turning old into new. Images of different
// lengths are refused with an error wrapping ErrInvalidOption and
// delta.ErrLengthMismatch.
func Diff(id PageID, old, new []byte) (Delta, error) {
	d, err := delta.Diff(id, old, new)
	if err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return d, nil
}
