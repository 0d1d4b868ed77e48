package mmsb

import (
	"context"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/engine"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// Identifiers and tags.
type (
	// PageID identifies a page; 0 means "assign one".
	PageID = base.PageID
	// LSN is a log sequence number: an operation's place in the total order.
	LSN = base.LSN
	// Epoch is a page's version: +1 per applied delta.
	Epoch = base.Epoch
	// Location is where a page's bytes live (only CPU today).
	Location = base.Location
	// EdgeType is a dependency edge's kind.
	EdgeType = base.EdgeType
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

// Page flags set by non-data edges.
const (
	FlagStale       = engine.FlagStale
	FlagSyncPending = engine.FlagSyncPending
	FlagIRInvalid   = engine.FlagIRInvalid
)

// Deltas.
type (
	// Delta is a write to one page (see internal/delta for the forms).
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

// API types.
type (
	// Options configure a bus (sync mode, segment size, automatic
	// checkpoints, clock, recompute functions, workers, ...).
	Options = engine.Options
	// PageSpec describes a page to create.
	PageSpec = engine.PageSpec
	// PageInfo describes a page (size, epoch, last-write LSN, flags, metadata).
	PageInfo = engine.PageInfo
	// MetaEntry is one key/value metadata pair of a page.
	MetaEntry = page.MetaEntry
	// CommitInfo is a committed batch's LSN range and time.
	CommitInfo = engine.CommitInfo
	// Stats describes a bus.
	Stats = engine.Stats
	// Recovery says what Open found and did.
	Recovery = engine.Recovery
	// CheckpointInfo describes a checkpoint taken.
	CheckpointInfo = engine.CheckpointInfo
	// ReplayTarget says where a replay stops (LSN, time or page epoch).
	ReplayTarget = engine.ReplayTarget
	// ReplayReport compares a replay of the log with the live state.
	ReplayReport = engine.ReplayReport
	// Binding ties a derived page to a recompute function and its parents.
	Binding = engine.Binding
	// Edge is a typed dependency edge parent -> child.
	Edge = graph.Edge
	// RecomputeFunc computes a derived page from its parents: pure,
	// deterministic, inputs read-only.
	RecomputeFunc = semiring.Func
	// SyncMode says when a commit is acknowledged.
	SyncMode = tlog.SyncMode
	// FS is the filesystem interface all file I/O goes through.
	FS = vfs.FS
)

// Sync modes.
const (
	SyncGroup  = tlog.SyncGroup
	SyncAlways = tlog.SyncAlways
	SyncNone   = tlog.SyncNone
)

// ParseSyncMode parses "group", "always" or "none".
func ParseSyncMode(s string) (SyncMode, error) { return tlog.ParseSyncMode(s) }

// Bus is an open MMSB bus. Its methods are safe for concurrent use.
type Bus struct {
	*engine.Engine
}

// Open opens (creating if needed) the bus stored in dir, recovering the
// newest valid checkpoint plus the log tail; dir "" opens an in-memory bus
// whose log lives in memory. opts may be nil.
func Open(dir string, opts *Options) (*Bus, error) {
	e, err := engine.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	return &Bus{e}, nil
}

// Replay rebuilds the state stored in dir up to target into a new detached,
// read-only bus (no log). funcs supplies recompute functions for bindings.
func Replay(ctx context.Context, dir string, target ReplayTarget, funcs map[string]RecomputeFunc) (*Bus, error) {
	e, err := engine.ReplayDir(ctx, vfs.Default, dir, target, funcs)
	if err != nil {
		return nil, err
	}
	return &Bus{e}, nil
}

// Write returns a delta writing data at off of page id.
func Write(id PageID, off int, data []byte) Delta {
	return Delta{Page: id, Runs: []Run{{Offset: uint32(off), Data: data}}}
}

// Merge returns a ⊕ b (b wins on overlap).
func Merge(a, b *Delta) Delta { return delta.Merge(a, b) }

// Diff returns the minimal delta turning old into new.
func Diff(id PageID, old, new []byte) Delta { return delta.Diff(id, old, new) }

// Ticks, propagation, events, provenance and log queries.
type (
	// Orchestrator runs ticks: intake queue → commit → propagate →
	// invariants → checkpoint → events.
	Orchestrator = engine.Orchestrator
	// TickOptions configure an Orchestrator.
	TickOptions = engine.TickOptions
	// TickResult describes one tick.
	TickResult = engine.TickResult
	// TickMetrics are an orchestrator's cumulative counters and latencies.
	TickMetrics = engine.TickMetrics
	// Event is something a tick published.
	Event = engine.Event
	// EventType is an Event's kind.
	EventType = engine.EventType
	// EventFilter selects events for a subscription.
	EventFilter = engine.EventFilter
	// Subscription receives events.
	Subscription = engine.Subscription
	// PropagateResult describes one propagation wave.
	PropagateResult = engine.PropagateResult
	// ProvenanceResult answers "who last wrote these bytes, from what".
	ProvenanceResult = engine.ProvenanceResult
	// LogQuery selects logged operations; LoggedOp is one of them.
	LogQuery = engine.LogQuery
	// LoggedOp is one logged operation found by a query.
	LoggedOp = engine.LoggedOp
)

// NewOrchestrator starts a tick orchestrator over the bus.
func (b *Bus) NewOrchestrator(opts *TickOptions) (*Orchestrator, error) {
	return engine.NewOrchestrator(b.Engine, opts)
}

// Tick phases, to index TickMetrics.Phases.
const (
	PhaseDrain      = engine.PhaseDrain
	PhaseValidate   = engine.PhaseValidate
	PhaseCommit     = engine.PhaseCommit
	PhasePropagate  = engine.PhasePropagate
	PhaseInvariants = engine.PhaseInvariants
)
