package mmsb

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
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

// Location says where a page's bytes live. Only CPU is implemented; GPU and
// Unified are reserved for device backends and refused with ErrInvalidPage.
type Location uint8

// Page locations.
const (
	CPU     = Location(base.LocationCPU)
	GPU     = Location(base.LocationGPU)
	Unified = Location(base.LocationUnified)
)

// String returns the location's lower-case name.
func (l Location) String() string { return base.Location(l).String() }

// EdgeType is the kind of a dependency edge parent -> child. Data edges
// drive recomputation of bound derived pages; the others raise a flag on
// the child when the parent changes (FlagStale, FlagSyncPending,
// FlagIRInvalid).
type EdgeType uint8

// Edge types.
const (
	EdgeData     = EdgeType(base.EdgeData)
	EdgeControl  = EdgeType(base.EdgeControl)
	EdgeGPUSync  = EdgeType(base.EdgeGPUSync)
	EdgeCompiler = EdgeType(base.EdgeCompiler)
)

// String returns the edge type's lower-case name.
func (t EdgeType) String() string { return base.EdgeType(t).String() }

// MaxPageSize is the largest page size (16 MiB).
const MaxPageSize = base.MaxPageSize

// Edge is a typed dependency edge Parent -> Child.
type Edge struct {
	Parent, Child PageID
	Type          EdgeType
}

func edgeOf(e graph.Edge) Edge {
	return Edge{Parent: e.Parent, Child: e.Child, Type: EdgeType(e.Type)}
}

func edgesOut(es []graph.Edge) []Edge {
	if len(es) == 0 {
		return nil
	}
	out := make([]Edge, len(es))
	for i, e := range es {
		out[i] = edgeOf(e)
	}
	return out
}

// MetaEntry is one key/value metadata pair of a page. Keys starting with
// "mmsb." are reserved for meanings the bus and its tools give them
// (TypeMetaKey is the one defined): SetMetadata and CreatePages accept them
// as any other key, so use another prefix for your own.
type MetaEntry struct {
	Key   string
	Value []byte
}

// metaIn converts metadata to the page store's type (same layout).
func metaIn(ms []MetaEntry) []page.MetaEntry {
	if ms == nil {
		return nil
	}
	out := make([]page.MetaEntry, len(ms))
	for i, m := range ms {
		out[i] = page.MetaEntry(m)
	}
	return out
}

// metaOut copies the page store's metadata out to callers.
func metaOut(ms []page.MetaEntry) []MetaEntry {
	if len(ms) == 0 {
		return nil
	}
	out := make([]MetaEntry, len(ms))
	for i, m := range ms {
		out[i] = MetaEntry(m)
	}
	return out
}

// RecomputeFunc computes a derived page from its parents: it reads inputs
// (the parents' bytes, in the binding's order) and params (the binding's
// parameters) and writes the whole of out (the derived page; len(out) is
// its size). It must be pure and deterministic and must neither retain nor
// modify inputs: the Isolation validator re-runs it to check. The bus
// passes private copies of the parents as inputs, so a function that breaks
// this spoils only its own output, never state outside the log. It runs
// without the bus's lock, except when a wave is computed again
// (Bus.PropagateInto), so it must not call the bus.
type RecomputeFunc = func(inputs [][]byte, params []byte, out []byte) error

// SyncMode says when a commit is acknowledged; the package documentation
// says what each mode guarantees.
type SyncMode uint8

// Sync modes.
const (
	// SyncGroup (default): a commit returns after an fsync covering it;
	// concurrent committers share fsyncs.
	SyncGroup = SyncMode(tlog.SyncGroup)
	// SyncAlways: every commit is written and fsynced on its own.
	SyncAlways = SyncMode(tlog.SyncAlways)
	// SyncNone: a commit returns once written to the OS; a power failure may
	// lose acknowledged commits (a process crash does not), never corrupts.
	SyncNone = SyncMode(tlog.SyncNone)
)

// String returns "group", "always", "none" or "replicated".
func (m SyncMode) String() string {
	if m == SyncReplicated {
		return "replicated"
	}
	return tlog.SyncMode(m).String()
}

// ParseSyncMode parses "group", "always", "none" or "replicated" ("" is
// group); any other string is ErrInvalidOption, naming it (quoted, cut to
// 64 characters) and the accepted values. Case matters: "GROUP" is refused.
func ParseSyncMode(s string) (SyncMode, error) {
	if s == "replicated" {
		return SyncReplicated, nil
	}
	m, err := tlog.ParseSyncMode(s)
	if err != nil {
		// The log's error names neither "replicated" nor the bus's
		// package; its cause is only ever the unknown name.
		return 0, fmt.Errorf("%w: unknown sync mode %.64q (want group, always, none or replicated)", ErrInvalidOption, s)
	}
	return SyncMode(m), nil
}

// OpKind is the kind of a logged operation.
type OpKind uint8

// Logged operation kinds.
const (
	OpDelta      = OpKind(record.OpDelta)      // a delta written by a client
	OpCreatePage = OpKind(record.OpCreatePage) // page created
	OpFreePage   = OpKind(record.OpFreePage)   // page freed
	OpSetMeta    = OpKind(record.OpSetMeta)    // page metadata replaced
	OpAddEdge    = OpKind(record.OpAddEdge)    // dependency edge added
	OpRemoveEdge = OpKind(record.OpRemoveEdge) // dependency edge(s) removed
	OpBind       = OpKind(record.OpBind)       // derived page bound to a recompute function
	OpUnbind     = OpKind(record.OpUnbind)     // derived page binding removed
	OpSetFlags   = OpKind(record.OpSetFlags)   // page flags replaced
	OpDerived    = OpKind(record.OpDerived)    // a delta produced by propagation
	// OpWave ends a propagation wave's record (or is one on its own): the
	// pages still waiting for propagation after the wave (Op.Dirty, Op.Held),
	// so that recovery and followers count Pending as the live bus does
	// (a wave op too large for its record is left out: docs/formats.md). It
	// writes no page.
	OpWave = OpKind(record.OpWave)
)

// String names the operation kind ("delta", "create", ...).
func (k OpKind) String() string { return record.OpKind(k).String() }

// ParentRead is one parent a derived delta read: the parent page and its
// last-write LSN at the time.
type ParentRead struct {
	Page PageID
	LSN  LSN
}

func readsOut(rs []record.ParentRead) []ParentRead {
	if len(rs) == 0 {
		return nil
	}
	out := make([]ParentRead, len(rs))
	for i, r := range rs {
		out[i] = ParentRead(r)
	}
	return out
}

// Write returns a delta writing data at off of page id. off is a uint32,
// the type of a run offset, so that no offset can wrap on the way in.
func Write(id PageID, off uint32, data []byte) Delta {
	return Delta{Page: id, Runs: []Run{{Offset: off, Data: data}}}
}

// Merge returns a ⊕ b (b wins on overlap). Deltas to different pages are
// refused with an error wrapping ErrInvalidDelta and delta.ErrPageMismatch,
// a nil a or b with one wrapping ErrInvalidDelta. So is a malformed a or b,
// one Commit would refuse whatever its page (an unknown Form, a mask
// shorter than MaskLen needs, a payload of another length than the mask
// needs, a run or mask past MaxPageSize, an empty run among others: see
// delta.Validate), with the delta's error
// (delta.ErrMalformed, delta.ErrSizeMismatch, ...) naming the fault:
// merged, its writes would be dropped or misread. An empty delta (no runs,
// delta.ErrEmpty) writes nothing and merges as such.
func Merge(a, b *Delta) (Delta, error) {
	if a == nil || b == nil {
		return Delta{}, fmt.Errorf("%w: Merge: nil delta", ErrInvalidDelta)
	}
	if err := checkMergeable(a, "first"); err != nil {
		return Delta{}, err
	}
	if err := checkMergeable(b, "second"); err != nil {
		return Delta{}, err
	}
	m, err := delta.Merge(a, b)
	if err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrInvalidDelta, err)
	}
	return m, nil
}

// checkMergeable refuses a delta Merge cannot read: Commit's validation
// (delta.Validate) against the largest page, so that only the faults no
// page size excuses are refused; an empty delta merges as nothing.
func checkMergeable(d *Delta, which string) error {
	err := delta.Validate(d, base.MaxPageSize)
	if err == nil || errors.Is(err, delta.ErrEmpty) {
		return nil
	}
	return fmt.Errorf("%w: Merge: %s delta: %w", ErrInvalidDelta, which, err)
}

// Diff returns the minimal delta turning old into cur: exactly the
// differing bytes, as runs in ascending order (see delta.Diff). Equal
// images give an empty delta (no runs), which Commit refuses
// (ErrInvalidDelta): skip it. Images of different lengths are refused with
// an error wrapping ErrInvalidOption and delta.ErrLengthMismatch.
func Diff(id PageID, old, cur []byte) (Delta, error) {
	d, err := delta.Diff(id, old, cur)
	if err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	return d, nil
}

// StoreStats describe the page store's memory.
type StoreStats struct {
	Pages        int   // live pages
	LogicalBytes int64 // sum of live page sizes
	ArenaBytes   int64 // bytes mapped for page data (in use + free)
	ArenaFree    int64 // mapped bytes not holding a live page
	MetaBytes    int64 // bytes of per-slot arrays and the ID index
	Creates      uint64
	Frees        uint64
	// DirectPages is how many pages a delta reaches without loading an
	// ID-index entry or a cell reference: pages 1..DirectPages, created in
	// ID order and of one size, none freed since, and for pages over 1 KiB
	// only those in the first 4 MiB of their size (docs/page.md, "In-order
	// prefix" and "Flat prefix"). A delta to one of them touches two
	// random cache lines (the page's version entry and its bytes); others
	// touch up to two more. Freeing a page cuts it to the pages below.
	DirectPages int
	// KVBytes is the encoded size of all pages' key/value metadata.
	KVBytes int64
}

// LogStats are cumulative counters of the transaction log.
type LogStats struct {
	Records    uint64
	Bytes      uint64 // framed bytes written
	Syncs      uint64 // fsyncs issued
	Writes     uint64 // write calls issued
	Segments   int
	LastLSN    LSN
	DurableLSN LSN // highest LSN covered by a completed fsync, in every sync mode
	// SegmentsGone counts segments removed once a checkpoint covered them.
	SegmentsGone uint64

	// WrittenLSN is the highest LSN handed to the OS (fsynced or not): what
	// survives a process crash but not necessarily a power failure. Under
	// SyncNone commits are acknowledged at WrittenLSN; DurableLSN moves only
	// with rotations, Flush and Close.
	WrittenLSN LSN

	// OldestLSN is the first LSN still readable by QueryLog (older segments
	// were removed once a checkpoint covered them), or 0 when the log holds
	// no record.
	OldestLSN LSN

	// PayloadBytes counts the encoded operations appended (the logical
	// bytes, before framing); WriteBytes counts the bytes handed to write
	// calls, frames and segment headers included (the physical bytes; the
	// bytes still buffered for the next group commit are not in it yet).
	PayloadBytes uint64
	WriteBytes   uint64
}

// LostLSNUnknown is LogRecovery.LostLastLSN when Options.Repair lost
// commits from LogRecovery.LostFirstLSN on but cannot tell the last LSN
// lost (math.MaxUint64).
const LostLSNUnknown = ^LSN(0)

// LogRecovery says what recovery found in the log.
type LogRecovery struct {
	Segments       int    // segment files present after recovery
	FirstLSN       LSN    // first LSN still in the log (0 if it holds none: fresh, or emptied by a checkpoint)
	LastLSN        LSN    // last LSN in the log (0 if it holds none; the state's is Bus.LastLSN)
	TornFile       string // segment whose torn tail was truncated ("" if none)
	TornOffset     int64  // offset the torn segment was truncated to
	TornBytes      int64  // bytes removed from the torn tail
	RepairedFile   string // Repair: segment truncated at corruption
	RepairedOffset int64
	DroppedRecords int // Repair: records dropped (including later segments)
	DroppedFiles   []string
	// LostFirstLSN and LostLastLSN are the LSNs whose commits the bus lost
	// to Options.Repair: "commits from LSN LostFirstLSN to LostLastLSN are
	// gone". Both are 0 when Repair dropped nothing committed (always
	// without Repair; also when the checkpoint recovery started from
	// holds every dropped LSN: then only their history is gone). An
	// Options.DisableLog Open that accepts a removed log (the log-mode
	// file says a log held the history, and wal/ or its segments are
	// gone) reports the loss too, as Repair does.
	//
	// LostFirstLSN is the LSN after the last one the recovered state
	// holds: the next commit takes it, so new commits reuse the lost LSNs.
	//
	// LostLastLSN is the last LSN the dropped records reached: read from
	// the last intact record dropped, or from the name of the segment
	// after a damaged one. It is LostLSNUnknown when the end cannot be
	// known: a dropped record that could not be read to its end (a
	// damaged length) with no intact record or segment after it; a
	// newer checkpoint that did not load and that Repair removed when
	// the log did not reach its LSN (commits through at least that LSN,
	// named in Recovery.SkippedCheckpoint, are gone, and the log does
	// not say how many more); a removed log (wal/ or its segments gone)
	// or one that ends before the checkpoint with nothing cut (a segment
	// missing): the commits after the checkpoint, if there were any. Then
	// commits from LostFirstLSN on may be gone, possibly none of them.
	// DroppedRecords and DroppedFiles say what the cut removed.
	LostFirstLSN LSN
	LostLastLSN  LSN
	// CoveredDamage counts damaged log records (a bad checksum, invalid
	// fields) that recovery skipped because the checkpoint it started from
	// covers every LSN they can hold: the state is whole, the history
	// before the checkpoint is not (Replay from empty, QueryLog over them
	// and mmsb check still report the damage). The first one's file,
	// offset and reason are kept.
	CoveredDamage       int
	CoveredDamageFile   string
	CoveredDamageOffset int64
	CoveredDamageReason string
}
