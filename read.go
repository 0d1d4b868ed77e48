package mmsb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
)

// PageInfo describes a page. It is the caller's: its Meta is a copy.
type PageInfo struct {
	ID       PageID
	Size     int
	Location Location
	Epoch    Epoch
	LastLSN  LSN // LSN of the last operation that wrote the page's bytes: its creation or a delta (metadata, flags and bindings do not move it)
	Flags    uint8
	Meta     []MetaEntry
	Derived  bool // bound to a recompute function
}

// ReadPage appends page id's bytes to dst and returns them with its epoch:
// a copy, taken between two batches (never half of one), which later
// commits do not change. Pass dst[:0] to reuse a buffer, nil for a new one.
// Errors: ErrPageNotFound, ErrClosed, and ErrFailed once the bus has failed
// in a way that may have left part of a batch in the pages (a panic out of
// its own code, a pipelined apply that failed): it returns that failure
// rather than such bytes. A bus failed by a log write, an fsync or its
// Replicator holds whole batches and goes on serving them, unless a
// pipelined apply running then fails after it.
func (e *Bus) ReadPage(id PageID, dst []byte) ([]byte, Epoch, error) {
	return e.ReadPageRange(id, 0, math.MaxInt, dst)
}

// ReadPageRange appends at most n bytes of page id, from byte off, to dst
// and returns them with the page's epoch: fewer than n when the page ends
// first, none when off is the page's size. It copies only that range, so
// showing a window of a large page does not copy the page (commits wait
// while a read copies). A negative off or n is ErrInvalidOption, an off
// past the page's end ErrOutOfRange.
func (e *Bus) ReadPageRange(id PageID, off, n int, dst []byte) ([]byte, Epoch, error) {
	if off < 0 || n < 0 {
		return dst, 0, fmt.Errorf("%w: ReadPageRange of page %d at offset %d, length %d: both must be >= 0", ErrInvalidOption, id, off, n)
	}
	if err := e.rlockPages(); err != nil {
		return dst, 0, err
	}
	defer e.mu.RUnlock()
	sl, ok := e.store.Lookup(id)
	if !ok {
		return dst, 0, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	b := e.store.Bytes(sl)
	if off > len(b) {
		return dst, 0, fmt.Errorf("%w: ReadPageRange: offset %d is past the end of page %d (%d bytes)", ErrOutOfRange, off, id, len(b))
	}
	return append(dst, b[off:off+min(n, len(b)-off)]...), e.store.Epoch(sl), nil
}

// Page returns a page's description. Errors: ErrPageNotFound, ErrClosed.
func (e *Bus) Page(id PageID) (PageInfo, error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return PageInfo{}, ErrClosed
	}
	sl, ok := e.store.Lookup(id)
	if !ok {
		return PageInfo{}, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	return e.pageInfoLocked(sl), nil
}

func (e *Bus) pageInfoLocked(sl page.Slot) PageInfo {
	id := e.store.ID(sl)
	_, derived := e.bindings[id]
	return PageInfo{ID: id, Size: e.store.Size(sl), Location: Location(e.store.Location(sl)), Epoch: e.store.Epoch(sl),
		LastLSN: e.store.LastLSN(sl), Flags: e.flags[id], Meta: metaCopy(e.store.Meta(sl)), Derived: derived}
}

// metaCopy returns a page's metadata with values the caller owns (one
// backing array for all of them): the store's values must not change
// outside a logged operation.
func metaCopy(ms []page.MetaEntry) []MetaEntry {
	out := metaOut(ms)
	n := 0
	for _, m := range out {
		n += len(m.Value)
	}
	buf := make([]byte, 0, n)
	for i := range out {
		if len(out[i].Value) == 0 {
			continue // nothing to write into; nil stays nil
		}
		start := len(buf)
		buf = append(buf, out[i].Value...)
		out[i].Value = buf[start:len(buf):len(buf)]
	}
	return out
}

// Pages returns every page's description in ascending ID order, or
// ErrClosed.
func (e *Bus) Pages() ([]PageInfo, error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	out := make([]PageInfo, 0, e.store.Len())
	e.store.ForEach(func(sl page.Slot) bool {
		out = append(out, e.pageInfoLocked(sl))
		return true
	})
	return out, nil
}

// PageIDs returns the live page IDs in ascending order, or ErrClosed.
func (e *Bus) PageIDs() ([]PageID, error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	return e.store.AppendIDs(nil), nil
}

// Flags returns a page's flags (FlagStale, FlagSyncPending, FlagIRInvalid).
// Errors: ErrPageNotFound, ErrClosed.
func (e *Bus) Flags(id PageID) (uint8, error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, ErrClosed
	}
	if _, ok := e.store.Lookup(id); !ok {
		return 0, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	return e.flags[id], nil
}

// Binding returns a derived page's binding.
func (e *Bus) Binding(id PageID) (Binding, bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	b, ok := e.bindings[id]
	if !ok {
		return Binding{}, false
	}
	return Binding{Func: b.Func, Params: append([]byte(nil), b.Params...), Parents: append([]PageID(nil), b.Parents...)}, true
}

// BindingFunc returns the name of the recompute function a derived page is
// bound to, without Binding's copies of its parameters and parents: a scan
// of many bindings by function (the inspector's search by function name)
// allocated a copy of every binding's parents per scan.
func (e *Bus) BindingFunc(id PageID) (string, bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	b, ok := e.bindings[id]
	if !ok {
		return "", false
	}
	return b.Func, true
}

// Bindings returns the IDs of every derived page, ascending.
func (e *Bus) Bindings() []PageID {
	e.rlockSettled()
	ids := make([]PageID, 0, len(e.bindings))
	for id := range e.bindings {
		ids = append(ids, id)
	}
	e.mu.RUnlock()
	sortUnlocked(e, func() { slices.Sort(ids) })
	return ids
}

// Edges returns every edge in (parent, child, type) order.
func (e *Bus) Edges() []Edge {
	e.rlockSettled()
	es := e.graph.AppendEdgesUnsorted(nil)
	e.mu.RUnlock()
	return sortedEdges(e, es)
}

// Children returns id's outgoing edges.
func (e *Bus) Children(id PageID) []Edge {
	e.rlockSettled()
	es := e.graph.AppendChildrenUnsorted(nil, id)
	e.mu.RUnlock()
	return sortedEdges(e, es)
}

// Parents returns id's incoming edges.
func (e *Bus) Parents(id PageID) []Edge {
	e.rlockSettled()
	es := e.graph.AppendParentsUnsorted(nil, id)
	e.mu.RUnlock()
	return sortedEdges(e, es)
}

// sortUnlocked runs sort, the sort of a list copied under e.mu, which the
// caller has released: the list accessors copy what they list under the
// read lock and sort the copy after, and so does a checkpoint with the
// bindings and edges of its snapshot, so that commits, which wait for the
// lock, do not wait for the sort (200,000 bindings or edges take
// milliseconds).
func sortUnlocked(e *Bus, sort func()) {
	if e.listSortHook != nil {
		e.listSortHook()
	}
	sort()
}

// sortedEdges sorts es, copied under e.mu (released), by (parent, child,
// type) and returns them as the API's edges (nil for none).
func sortedEdges(e *Bus, es []graph.Edge) []Edge {
	sortUnlocked(e, func() { slices.SortFunc(es, graph.CompareEdges) })
	return edgesOut(es)
}

// Descendants returns every page reachable from id through edges of any
// type, id excluded, in topological order (a page after every page with an
// edge into it; ties by the smaller ID).
func (e *Bus) Descendants(id PageID) []PageID {
	e.rlockSettled()
	defer e.mu.RUnlock()
	return e.graph.AppendDescendants(nil, []PageID{id}, nil)
}

// LastLSN returns the LSN of the last applied operation.
func (e *Bus) LastLSN() LSN {
	e.rlockSettled()
	defer e.mu.RUnlock()
	return e.lastLSN
}

// StateHash returns a 64-bit xxhash over every page in ID order (ID, size,
// epoch, bytes). Two buses with equal hashes hold the same pages. A closed
// bus has no pages to hash: ErrClosed (not the hash of an empty store). A
// bus whose pages may hold part of a batch returns its failure, as
// ReadPage does.
func (e *Bus) StateHash() (uint64, error) {
	if err := e.rlockPages(); err != nil {
		return 0, err
	}
	defer e.mu.RUnlock()
	return e.stateHashLocked(), nil
}

// rlockPages is rlockSettled for a read of page bytes. It returns with
// e.mu held shared and nil, or released and why the bytes are not served:
// ErrClosed, or the bus's failure when the pages may hold part of a batch
// (pagesErr). A drain that failed (seen through here, or by another
// reader, and found by no settle yet) fails the bus first, as Err does:
// until 2026-12-07 a reader got the failed batch's bytes, half of them
// applied, as success (TestDrainFailedReadsRefused). A bus that is well
// costs a nil check and one atomic load more than rlockSettled.
func (e *Bus) rlockPages() error {
	e.rlockSettled()
	if e.failErr == nil && !e.applier.failed.Load() {
		if e.closed {
			e.mu.RUnlock()
			return ErrClosed
		}
		return nil
	}
	if e.failErr == nil {
		e.mu.RUnlock()
		e.lockSettled() // fails the bus
		e.mu.Unlock()
		e.rlockSettled()
	}
	if e.closed {
		e.mu.RUnlock()
		return ErrClosed
	}
	if err := e.pagesErr(); err != nil {
		e.mu.RUnlock()
		return err
	}
	return nil
}

// pagesErr returns why the pages may hold part of a batch, nil if they
// hold whole batches: the bus's failure if that is such a one
// (partlyApplied), or, when the bus failed otherwise first (a log write,
// an fsync) and a pipelined apply failed after it, that failure saying so
// (the drain's own failure is not recorded: the bus keeps its first).
// Until 2026-12-07 that second case served the half-applied batch's bytes
// (TestDrainFailedAfterLogFailureReadsRefused). Caller holds e.mu, and has
// seen any drain through (rlockSettled). Called only on a failed bus.
func (e *Bus) pagesErr() error {
	var partial *pagesPartial
	switch {
	case e.failErr == nil:
		return nil
	case errors.As(e.failErr, &partial):
		return e.failErr
	case e.applier.failed.Load():
		return fmt.Errorf("%w (then a pipelined apply failed: the pages may hold part of a batch)", e.failErr)
	}
	return nil
}

func (e *Bus) stateHashLocked() uint64 {
	h := xxhash.New()
	e.store.ForEach(func(sl page.Slot) bool {
		hashPage(h, e.store, sl)
		return true
	})
	return h.Sum64()
}

// hashPage adds one page to a state hash: ID, size, epoch, bytes.
func hashPage(h *xxhash.Digest, s *page.Store, sl page.Slot) {
	var hdr [24]byte
	binary.LittleEndian.PutUint64(hdr[0:], uint64(s.ID(sl)))
	binary.LittleEndian.PutUint64(hdr[8:], uint64(s.Size(sl)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(s.Epoch(sl)))
	h.Write(hdr[:])
	h.Write(s.Bytes(sl))
}

// Stats describes the bus.
type Stats struct {
	Pages           int        // live pages
	LogicalBytes    int64      // sum of the live pages' sizes
	Store           StoreStats // the page store's figures (arenas, metadata)
	Edges           int        // dependency edges, all types
	GraphNodes      int        // pages with at least one edge
	GraphBytes      int64      // estimated heap bytes of the dependency graph
	Bindings        int        // derived pages (Bind)
	LastLSN         LSN        // LSN of the last operation applied
	Log             LogStats   // the transaction log's figures (zero without a log)
	SyncMode        string     // Options.Sync: "group", "always", "none" or "replicated"
	Checkpoints     uint64     // checkpoints written since Open
	LastCheckpoint  LSN        // LSN of the newest checkpoint: recovered by Open or written since (0: none)
	HeapBytes       uint64     // Go heap bytes held by objects, the whole process's
	InMemory        bool       // opened with dir "": nothing outlives the process
	Failed          bool       // failed for good (log write, fsync, replication): writes return ErrFailed
	HistoryCapacity int        // entries of the write-history ring (Options.HistoryEntries)

	// NoLog: the bus was opened with Options.DisableLog. It keeps no log,
	// so it has no history to replay, query or check its state against
	// (the integrity validator reports it not compared).
	NoLog bool

	// Closed: the bus is closed; Store and Log then hold their final
	// values (the arenas are gone).
	Closed bool

	// CheckpointFailures counts failed checkpoints (automatic or explicit)
	// since Open; CheckpointFailStreak counts those since the last
	// successful one (writes are refused with ErrCheckpointFailing while it
	// is non-zero and the log has reached its growth bound, see
	// Options.CheckpointBytes). LastCheckpointErr is the most recent
	// failure's error, kept after a later success for diagnosis. A
	// checkpoint that was written but whose cleanup (removing older
	// checkpoints and the log segments they cover) failed counts in both
	// Checkpoints and CheckpointFailures: it can be recovered from, but the
	// log it covers is not trimmed, and that must show.
	CheckpointFailures   uint64
	CheckpointFailStreak uint64
	LastCheckpointErr    error

	// CheckpointPaced is the time checkpoints have slept since Open to
	// hold Options.CheckpointWriteRate: how much the rate stretched them.
	CheckpointPaced time.Duration
}

// Stats returns current statistics. It keeps working after Close (with
// Closed set and the final store and log figures), so that an exporter
// polling it needs no special case. It is cheap enough to poll: it never
// waits for a running checkpoint and does not stop the world (HeapBytes
// comes from runtime/metrics, not runtime.ReadMemStats).
func (e *Bus) Stats() Stats {
	e.rlockSettled()
	s := e.statsLocked()
	e.mu.RUnlock()
	e.statsUnlocked(&s)
	return s
}

// StatsWithHash returns Stats and StateHash read under one hold of the
// read lock: the hash is the state's at the returned LastLSN, with the
// returned page count. Two separate calls cannot promise that, as a commit
// may land between them. Hashing reads every page and holds writers back
// meanwhile, so it is for checks, not for polling. ErrClosed once closed;
// the bus's failure when its pages may hold part of a batch (see ReadPage).
func (e *Bus) StatsWithHash() (Stats, uint64, error) {
	if err := e.rlockPages(); err != nil {
		return Stats{}, 0, err
	}
	s := e.statsLocked()
	h := e.stateHashLocked()
	e.mu.RUnlock()
	e.statsUnlocked(&s)
	return s, h, nil
}

// statsLocked reads the figures that e.mu guards (held by the caller, for
// reading at least).
func (e *Bus) statsLocked() Stats {
	st := e.store.Stats()
	if e.closed {
		st = e.finalStore
	}
	s := Stats{Pages: st.Pages, LogicalBytes: st.LogicalBytes, Store: StoreStats(st), Edges: e.graph.NumEdges(),
		GraphNodes: e.graph.NumNodes(), GraphBytes: e.graph.MemoryBytes(), Bindings: len(e.bindings),
		LastLSN: e.lastLSN, SyncMode: e.opts.Sync.String(), InMemory: e.memory, Failed: e.failed(),
		Closed: e.closed, HistoryCapacity: len(e.hist), NoLog: e.opts.DisableLog}
	if e.log != nil {
		s.Log = LogStats(e.log.Stats())
	}
	// Under e.mu too (ckptStatMu is a leaf lock): read after releasing
	// it, a checkpoint of a commit made meanwhile could show a
	// LastCheckpoint past LastLSN.
	e.ckptStatMu.Lock()
	s.Checkpoints, s.LastCheckpoint = e.checkpointCount, e.lastCkptLSN
	s.CheckpointFailures, s.LastCheckpointErr = e.ckptFailures, e.ckptLastErr
	e.ckptStatMu.Unlock()
	return s
}

// failed reports whether the bus has failed for good: its sticky failure,
// or a pipelined apply that failed and that no settle has turned into one
// yet (the next settle does; Err and the reads of page bytes take the lock
// to settle it). Stats said Failed false then, with Err reporting
// ErrFailed (TestDrainFailedStatsReports). Caller holds e.mu, and has seen
// any drain through (rlockSettled): its failure is recorded by then.
func (e *Bus) failed() bool {
	return e.failErr != nil || e.applier.failed.Load()
}

// statsUnlocked fills the figures that need no lock.
func (e *Bus) statsUnlocked(s *Stats) {
	s.CheckpointFailStreak = e.ckptFailStreak.Load()
	s.CheckpointPaced = time.Duration(e.ckptPaced.Load())
	s.HeapBytes = heapBytes()
}

// CheckpointFailures returns how many checkpoints have failed since Open and
// the last failure's error (nil if none): the cheap subset of Stats that the
// tick orchestrator polls to publish EventCheckpointFailed.
func (e *Bus) CheckpointFailures() (uint64, error) {
	e.ckptStatMu.Lock()
	defer e.ckptStatMu.Unlock()
	return e.ckptFailures, e.ckptLastErr
}

// heapMetric is runtime.MemStats.HeapAlloc's runtime/metrics name.
const heapMetric = "/memory/classes/heap/objects:bytes"

// heapBytes returns the bytes held by heap objects. runtime/metrics reads
// it without stopping the world, which runtime.ReadMemStats does on every
// call.
func heapBytes() uint64 {
	s := [1]metrics.Sample{{Name: heapMetric}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0 // not supported by this runtime
	}
	return s[0].Value.Uint64()
}
