package mmsb

import (
	"fmt"
	"slices"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
)

// histEntry is one slot of the in-memory write-history ring used by
// provenance: the entry for LSN l sits at index l & (len(ring)-1). It is 24
// bytes, written once per operation. It deliberately holds nothing that
// depends on the page's previous state (such as the previous write's LSN):
// that would need a random load per delta on the commit hot path, and make
// parallel apply write neighbouring entries from different cores. A page's
// earlier writes are found by scanning the ring backwards (histPrev).
type histEntry struct {
	LSN  LSN    // the operation's LSN (0: slot unused)
	Page PageID // page written (0 for non-page ops)
	Lo   uint32 // bounding byte range [Lo, End()) written
	hi   uint32 // End() | histDerived
}

const histDerived = 1 << 31

// End returns the end of the bounding byte range written.
func (h *histEntry) End() uint32 { return h.hi &^ histDerived }

// Derived reports whether propagation wrote it.
func (h *histEntry) Derived() bool { return h.hi&histDerived != 0 }

func histHi(hi uint32, derived bool) uint32 {
	if derived {
		return hi | histDerived
	}
	return hi
}

// commitStamp is one slot of the commit-time ring: the LSN range and time
// of a committed record.
type commitStamp struct {
	First, Last LSN
	Time        int64
}

// checkCreate validates a page creation without applying it.
func (e *Bus) checkCreate(id PageID, size uint32, loc base.Location, meta []byte) error {
	if id == 0 {
		return fmt.Errorf("%w: page id 0 is reserved", ErrInvalidPage)
	}
	if size == 0 || size > base.MaxPageSize {
		return fmt.Errorf("%w: page %d size %d (want 1..%d)", ErrInvalidPage, id, size, base.MaxPageSize)
	}
	if loc != base.LocationCPU {
		return fmt.Errorf("%w: page %d location %v: no device backend exists, only cpu is supported", ErrInvalidPage, id, loc)
	}
	if _, ok := e.store.Lookup(id); ok {
		return fmt.Errorf("%w: page %d", ErrPageExists, id)
	}
	if len(meta) > page.MaxMetaBytes {
		return fmt.Errorf("%w: page %d metadata %d bytes exceeds %d", ErrInvalidPage, id, len(meta), page.MaxMetaBytes)
	}
	if _, err := page.DecodeMeta(meta); err != nil {
		return fmt.Errorf("%w: page %d metadata: %w", ErrInvalidPage, id, err)
	}
	return nil
}

// checkFree validates freeing a page.
func (e *Bus) checkFree(id PageID) error {
	if _, ok := e.store.Lookup(id); !ok {
		return fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	if e.graph.HasEdges(id) {
		return fmt.Errorf("%w: page %d (remove its edges first)", ErrPageInUse, id)
	}
	if _, ok := e.bindings[id]; ok {
		return fmt.Errorf("%w: page %d is bound (unbind it first)", ErrPageInUse, id)
	}
	return nil
}

// checkDelta validates one delta against the current state; pending is the
// number of earlier deltas to the same page in the same batch (for
// CheckEpoch).
func (e *Bus) checkDelta(d *delta.Delta, pending Epoch) (page.Slot, error) {
	sl, ok := e.store.Lookup(d.Page)
	if !ok {
		sl = noSlot
	}
	return e.checkDeltaAt(d, sl, pending)
}

// ValidateBatch checks every delta of ds against the current state exactly
// as Commit would, without committing anything, and calls reject(i, err) for
// each delta Commit would refuse. A CheckEpoch delta is checked against the
// page's epoch plus the number of accepted deltas to the same page before it
// in ds, so the accepted deltas, committed in order as one batch, succeed
// unless the state changes in between. It returns the number of accepted
// deltas, or ErrClosed. reject may be nil: only the count is wanted. An
// empty ds is ErrInvalidDelta, as Commit says of an empty batch.
//
// reject is called after the bus's lock is released, once per refused delta
// in ascending order of i, so it may call the bus (Commit, ReadPage, ...);
// what it sees then may differ from the state the deltas were checked
// against.
//
// The tick orchestrator uses it to reject bad submissions one by one instead
// of failing a whole tick.
func (e *Bus) ValidateBatch(ds []Delta, reject func(i int, err error)) (int, error) {
	accepted, rejected, errs, err := e.validateBatch(ds, reject != nil)
	// reject runs unlocked: a callback that calls the bus under the read
	// lock deadlocks it (a write lock waits for the read lock, and a second
	// read lock waits behind a waiting writer).
	if reject != nil {
		for k, i := range rejected {
			reject(i, errs[k])
		}
	}
	return accepted, err
}

// validateBatch is ValidateBatch under the read lock: it returns the number
// of accepted deltas, the indexes of the refused ones and, if wantErrs, their
// errors (errs[k] is the error of ds[rejected[k]]).
func (e *Bus) validateBatch(ds []Delta, wantErrs bool) (accepted int, rejected []int, errs []error, err error) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, nil, nil, ErrClosed
	}
	if len(ds) == 0 {
		return 0, nil, nil, fmt.Errorf("%w: empty batch", ErrInvalidDelta)
	}
	// pending counts accepted deltas per page; built only once a CheckEpoch
	// delta needs it (most batches have none), from the accepted prefix.
	var pending map[PageID]Epoch
	for i := range ds {
		d := &ds[i]
		var p Epoch
		if d.CheckEpoch {
			if pending == nil {
				pending = map[PageID]Epoch{}
				for j, r := 0, 0; j < i; j++ {
					if r < len(rejected) && rejected[r] == j {
						r++
						continue
					}
					pending[ds[j].Page]++
				}
			}
			p = pending[d.Page]
		}
		if _, cerr := e.checkDelta(d, p); cerr != nil {
			if wantErrs {
				errs = append(errs, cerr)
			}
			rejected = append(rejected, i)
			continue
		}
		if pending != nil {
			pending[d.Page]++
		}
	}
	return len(ds) - len(rejected), rejected, errs, nil
}

// checkDeltaAt is checkDelta with the page's slot already looked up (noSlot:
// the page does not exist).
func (e *Bus) checkDeltaAt(d *delta.Delta, sl page.Slot, pending Epoch) (page.Slot, error) {
	if sl == noSlot {
		return 0, fmt.Errorf("%w: delta for page %d", ErrPageNotFound, d.Page)
	}
	if err := delta.Validate(d, e.store.Size(sl)); err != nil {
		return 0, fmt.Errorf("%w: page %d: %w", ErrInvalidDelta, d.Page, err)
	}
	if d.CheckEpoch {
		if cur := e.store.Epoch(sl) + pending; cur != d.ExpectEpoch {
			return 0, fmt.Errorf("%w: page %d is at epoch %d, delta expects %d", ErrConflict, d.Page, cur, d.ExpectEpoch)
		}
	}
	return sl, nil
}

// Applying a validated, logged delta is the one way page bytes change, in
// every path: live commits (serial or parallel), recovery and replay, and
// propagation. It has four steps, each one function: cowSaveBytes (keep
// the bytes it overwrites for a running checkpoint), applyToPage (bytes and stamps),
// recordHistory (the write-history ring) and markDirty (the pages
// propagation starts from). applyDelta runs them for one delta. For runs of
// deltas (applyBatch for commits, applyDeltaRun for replay) each step runs
// over the whole run before the next: a tight loop of applyToPage alone
// keeps many page cache misses in flight (interleaving the bookkeeping cost
// 15% of BenchmarkCommitMemory; applyBatch even splits applyToPage into a
// bytes loop and a stamps loop), and applyToPage touches nothing but the
// delta's own page slot, so the apply workers share it over a large batch.
// The commit path records history in its check/encode pass, while each
// delta is hot in cache and, with several workers, in contiguous LSN chunks
// (page-sharded history writes shared cache lines between workers: -20% on
// BenchmarkCommitMemory2W).

// applyDelta applies a validated delta at lsn: copy-on-write for a running
// checkpoint, bytes, epoch, last-write LSN, the delta's stamps, history and
// dirty marking. Caller holds e.mu.
func (e *Bus) applyDelta(sl page.Slot, d *delta.Delta, lsn LSN, t int64, derived bool) {
	if e.cow != nil {
		e.cowSaveBytes(sl, d)
	}
	e.applyToPage(sl, d, lsn, t)
	e.recordHistory(lsn, d, derived)
	if e.graphHasEdges {
		e.markDirty(d.Page)
	}
}

// applyDerived applies a derived delta computed from reads (the parents and
// their LSNs), as propagation and the replay of an OpDerived do.
func (e *Bus) applyDerived(sl page.Slot, d *delta.Delta, reads []record.ParentRead, lsn LSN, t int64) {
	e.setDerivedReads(d.Page, reads, lsn)
	e.applyDelta(sl, d, lsn, t, true)
}

// setFlags replaces page id's flags at lsn (propagation raising them, an
// OpSetFlags replayed, ClearFlags).
func (e *Bus) setFlags(id PageID, flags uint8, lsn LSN, t int64) {
	e.cowSave(id)
	if flags == 0 {
		delete(e.flags, id)
	} else {
		e.flags[id] = flags
	}
	e.recordHist(lsn, id, t)
}

// applyBatch applies a committed batch of validated deltas with LSNs from
// first; checkAndEncode recorded their history. Caller holds e.mu.
func (e *Bus) applyBatch(ds []delta.Delta, slots []page.Slot, first LSN, t int64) {
	if e.cow != nil {
		e.cow.warm(e.store, ds, slots)
		for i := range ds {
			e.cowSaveBytes(slots[i], &ds[i])
		}
	}
	if e.applier.workers > 1 && len(ds) >= parallelMin {
		e.applier.apply(e, ds, slots, first, t) // applyToPage, sharded by page
	} else if e.shared {
		for i := range ds {
			e.applyToPage(slots[i], &ds[i], first+LSN(i), t)
		}
	} else {
		// Every delta's bytes, then every stamp: one loop doing both per
		// delta held the page stores behind the version entry's
		// read-modify-write; two tight loops keep more cache misses in
		// flight (one worker +18 %, docs/benchmarks.md). Same state: each
		// loop runs in batch order.
		for i := range ds {
			// checkDeltaAt validated ds[i] against this page's size, so
			// Apply cannot refuse it; invariants builds check that.
			if err := delta.Apply(&ds[i], e.store.Bytes(slots[i])); invariants.Enabled && err != nil {
				panic(fmt.Sprintf("invariants: validated delta %d does not apply: %v", i, err))
			}
		}
		for i := range ds {
			e.stampPage(slots[i], &ds[i], first+LSN(i), t)
		}
	}
	if e.graphHasEdges {
		for i := range ds {
			e.markDirty(ds[i].Page)
		}
	}
}

// applyToPage writes a delta's bytes into its page and stamps the page
// (epoch + 1, last-write LSN) and the delta (LSN, Epoch, Time). It touches
// only the delta's page slot, so the apply workers run it concurrently on
// distinct pages.
func (e *Bus) applyToPage(sl page.Slot, d *delta.Delta, lsn LSN, t int64) {
	if e.shared {
		e.applyToPageShared(sl, d, lsn, t)
		return
	}
	// d was validated against this page's size (checkDeltaAt) or is a
	// Diff of its bytes (propagation), so Apply cannot refuse it;
	// invariants builds check that.
	if err := delta.Apply(d, e.store.Bytes(sl)); invariants.Enabled && err != nil {
		panic(fmt.Sprintf("invariants: validated delta does not apply: %v", err))
	}
	e.stampPage(sl, d, lsn, t)
}

// stampPage advances the page's epoch, records lsn as its last write and
// stamps the delta (LSN, Epoch, Time).
func (e *Bus) stampPage(sl page.Slot, d *delta.Delta, lsn LSN, t int64) {
	ep := e.store.Epoch(sl) + 1
	e.store.SetEpoch(sl, ep)
	e.store.SetLastLSN(sl, lsn)
	d.LSN, d.Epoch, d.Time = lsn, ep, t
}

// historyFrom returns the index of the first of n deltas whose history
// entry survives the batch: only the newest len(e.hist) entries do.
func (e *Bus) historyFrom(n int) int { return max(0, n-len(e.hist)) }

// recordHistory records a delta in the write-history ring. It writes only
// the delta's ring entry, so the check/encode workers run it concurrently
// for distinct LSNs within one ring's length, each on a contiguous chunk.
func (e *Bus) recordHistory(lsn LSN, d *delta.Delta, derived bool) {
	if e.hist != nil {
		lo, hi := deltaBounds(d)
		e.recordWrite(lsn, d.Page, lo, hi, derived)
	}
}

// recordWrite records that the operation at lsn wrote [lo, hi) of page id
// in the write-history ring (a pipelined apply's helper calls it with a
// decoded run's bounds). Caller checks e.hist != nil.
func (e *Bus) recordWrite(lsn LSN, id PageID, lo, hi uint32, derived bool) {
	e.hist[uint64(lsn)&e.histMask] = histEntry{LSN: lsn, Page: id, Lo: lo, hi: histHi(hi, derived)}
}

// histPrev returns the LSN of the newest operation on page id before LSN
// before that the ring still holds. ok is false when the ring no longer
// covers the history needed to answer (the caller reads the log instead).
// Caller holds e.mu.
func (e *Bus) histPrev(id PageID, before LSN) (LSN, bool) {
	if e.hist == nil {
		return 0, false
	}
	n := LSN(len(e.hist))
	for lsn := before - 1; lsn > 0 && before-lsn <= n; lsn-- {
		h := &e.hist[uint64(lsn)&e.histMask]
		if h.LSN != lsn {
			return 0, false // overwritten (or never written): history gone
		}
		if h.Page == id {
			return lsn, true
		}
	}
	if before <= n {
		return 0, true // the ring reaches back to LSN 1: no earlier write
	}
	return 0, false
}

// deltaBounds returns the bounding range a delta writes.
func deltaBounds(d *delta.Delta) (lo, hi uint32) {
	switch d.Form {
	case delta.FormRuns:
		lo = ^uint32(0)
		for i := range d.Runs {
			r := &d.Runs[i]
			if r.Offset < lo {
				lo = r.Offset
			}
			if end := r.Offset + uint32(len(r.Data)); end > hi {
				hi = end
			}
		}
		if lo > hi {
			lo = hi
		}
		return lo, hi
	default:
		first, last := -1, -1
		for i := 0; i < int(d.MaskLen); i++ {
			if d.Mask[i>>3]&(1<<(i&7)) != 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 {
			return 0, 0
		}
		return uint32(first), uint32(last + 1)
	}
}

func (e *Bus) markDirty(id PageID) {
	if _, ok := e.dirtySet[id]; ok {
		return
	}
	if !e.graph.HasEdges(id) {
		return
	}
	if e.pendingExtra > 0 && e.waitsBeyondDirty(id) {
		e.pendingExtra-- // Pending counts it once, as dirty now
	}
	e.dirtySet[id] = struct{}{}
	e.dirty = append(e.dirty, id)
}

// forgetDirty drops a freed page from the dirty set: it no longer waits
// for propagation (Pending counted it until the next wave). A scan, but
// frees are rare and the set holds only pages written since the last wave.
func (e *Bus) forgetDirty(id PageID) {
	if _, ok := e.dirtySet[id]; !ok {
		return
	}
	delete(e.dirtySet, id)
	if i := slices.Index(e.dirty, id); i >= 0 {
		e.dirty = slices.Delete(e.dirty, i, i+1)
	}
	e.adjustPending(id, false) // it was dirty: not counted beyond the dirty set
}

// applyOp validates and applies one logged operation at lsn. It is the one
// place where recovered operations change state, and live control
// operations go through it too after they are logged.
func (e *Bus) applyOp(op *record.Op, lsn LSN, t int64) error {
	if op.Kind != record.OpDelta && op.Kind != record.OpDerived {
		e.ctrlGen++
	}
	switch op.Kind {
	case record.OpDelta, record.OpDerived:
		sl, err := e.checkDelta(&op.Delta, 0)
		if err != nil {
			return err
		}
		if op.Kind == record.OpDerived {
			e.applyDerived(sl, &op.Delta, op.Reads, lsn, t)
		} else {
			e.applyDelta(sl, &op.Delta, lsn, t, false)
		}
	case record.OpCreatePage:
		if err := e.checkCreate(op.Page, op.Size, op.Location, op.Meta); err != nil {
			return err
		}
		sl, err := e.store.CreateAt(op.Page, int(op.Size), op.Location, uint64(lsn))
		if err != nil {
			return err
		}
		if len(op.Meta) > 0 {
			entries, _ := page.DecodeMeta(op.Meta)
			if err := e.store.SetMeta(sl, entries); err != nil {
				return err
			}
		}
		// nextID 0 means none is left: page math.MaxUint64 was created,
		// and op.Page+1 wrapped. It stays 0, or an automatic ID would be
		// handed out again below a page in use (or a freed one).
		if e.nextID != 0 && op.Page >= e.nextID {
			e.nextID = op.Page + 1
		}
		e.recordHist(lsn, op.Page, t)
	case record.OpFreePage:
		if err := e.checkFree(op.Page); err != nil {
			return err
		}
		e.cowSaveWhole(op.Page)
		if err := e.store.FreeAt(op.Page, uint64(lsn)); err != nil {
			return err
		}
		delete(e.flags, op.Page)
		delete(e.derivedReads, op.Page)
		e.forgetDirty(op.Page)
		e.recordHist(lsn, op.Page, t)
	case record.OpSetMeta:
		sl, ok := e.store.Lookup(op.Page)
		if !ok {
			return fmt.Errorf("%w: page %d", ErrPageNotFound, op.Page)
		}
		entries, err := page.DecodeMeta(op.Meta)
		if err != nil {
			return fmt.Errorf("%w: page %d metadata: %w", ErrInvalidPage, op.Page, err)
		}
		e.cowSave(op.Page)
		if err := e.store.SetMeta(sl, entries); err != nil {
			return fmt.Errorf("%w: page %d: %w", ErrInvalidPage, op.Page, err)
		}
		e.recordHist(lsn, op.Page, t)
	case record.OpAddEdge:
		if err := e.checkEdgeEnds(op.Parent, op.Child, op.EdgeType); err != nil {
			return err
		}
		if err := e.checkDataEdgeOwner(op.Parent, op.Child, op.EdgeType); err != nil {
			return err
		}
		if _, err := e.graph.AddEdge(op.Parent, op.Child, base.EdgeType(op.EdgeType)); err != nil {
			return err
		}
		e.graphHasEdges = true
		e.recordHist(lsn, 0, t)
	case record.OpRemoveEdge:
		if op.EdgeType == record.AllEdgeTypes {
			e.graph.RemoveEdges(op.Parent, op.Child)
		} else {
			e.graph.RemoveEdge(op.Parent, op.Child, base.EdgeType(op.EdgeType))
		}
		e.graphHasEdges = e.graph.NumEdges() > 0
		e.recordHist(lsn, 0, t)
	case record.OpBind:
		if err := e.checkBind(op.Page, op.Parents, true); err != nil {
			return err
		}
		e.bind(op.Page, op.Func, op.Params, op.Parents)
		// The next wave computes the new page, from the log too (a
		// recovered bus computes a binding whose wave never ran).
		e.markRecompute(op.Page)
		e.recordHist(lsn, op.Page, t)
	case record.OpUnbind:
		if _, ok := e.bindings[op.Page]; !ok {
			return fmt.Errorf("%w: page %d", ErrNotDerived, op.Page)
		}
		e.unbind(op.Page)
		e.recordHist(lsn, op.Page, t)
	case record.OpSetFlags:
		if _, ok := e.store.Lookup(op.Page); !ok {
			return fmt.Errorf("%w: page %d", ErrPageNotFound, op.Page)
		}
		e.setFlags(op.Page, op.Flags, lsn, t)
	case record.OpWave:
		if err := e.checkWave(op); err != nil {
			return err
		}
		e.applyWave(op)
		e.recordHist(lsn, 0, t)
	default:
		return fmt.Errorf("%w: unknown op %v", ErrCorruption, op.Kind)
	}
	e.lastLSN = lsn
	e.lastTime = t
	return nil
}

func (e *Bus) recordHist(lsn LSN, id PageID, t int64) {
	if e.hist == nil {
		return
	}
	_ = t
	e.recordWrite(lsn, id, 0, 0, false) // an operation that writes no byte
}

// checkDataEdgeOwner refuses a Data edge into a derived page from a page
// that is not one of its binding's parents: Data edges into a derived page
// are owned by its binding (Bind adds them, Unbind removes them).
func (e *Bus) checkDataEdgeOwner(parent, child PageID, typ uint8) error {
	if base.EdgeType(typ) != base.EdgeData {
		return nil
	}
	// The binding's Data edges are in the graph (Bind adds them all, and
	// nothing else adds or removes a Data edge into a derived page), so
	// the edge's presence says whether parent is one of the binding's
	// parents: one probe, where slices.Contains(b.Parents, parent) took
	// time linear in the parents, quadratic over an edge per parent
	// (TestDataEdgeChecksOfManyParentsLinear).
	if b, ok := e.bindings[child]; ok && !e.graph.HasEdge(parent, child, base.EdgeData) {
		return fmt.Errorf("%w: data edges into derived page %d come from its binding (parents %s); page %d is not one of them",
			ErrPageInUse, child, shownIDs(b.Parents), parent)
	}
	return nil
}

// maxShownIDs is how many page IDs an error message lists.
const maxShownIDs = 16

// shownIDs formats ids for an error message: all of them up to
// maxShownIDs, else the first maxShownIDs and how many there are. A
// binding may have as many parents as a writer likes, and a refusal that
// listed them all was 600 KB for 100,000 parents
// (TestRefusalListsBoundedParents).
func shownIDs(ids []PageID) string {
	if len(ids) <= maxShownIDs {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v… (%d in all)", ids[:maxShownIDs], len(ids))
}

func (e *Bus) checkEdgeEnds(parent, child PageID, typ uint8) error {
	if typ >= base.NumEdgeTypes {
		return fmt.Errorf("%w: unknown edge type %d", ErrInvalidOption, typ)
	}
	if _, ok := e.store.Lookup(parent); !ok {
		return fmt.Errorf("%w: edge parent %d", ErrPageNotFound, parent)
	}
	if _, ok := e.store.Lookup(child); !ok {
		return fmt.Errorf("%w: edge child %d", ErrPageNotFound, child)
	}
	return nil
}

// checkBind validates a binding. When tryEdges, it also proves the Data
// edges parent -> child can be added (tentatively adding and removing them).
func (e *Bus) checkBind(child PageID, parents []PageID, tryEdges bool) error {
	if _, ok := e.store.Lookup(child); !ok {
		return fmt.Errorf("%w: derived page %d", ErrPageNotFound, child)
	}
	if _, ok := e.bindings[child]; ok {
		return fmt.Errorf("%w: page %d is already bound", ErrPageInUse, child)
	}
	if len(parents) == 0 {
		return fmt.Errorf("%w: binding of page %d has no parents", ErrInvalidOption, child)
	}
	for _, p := range parents {
		if _, ok := e.store.Lookup(p); !ok {
			return fmt.Errorf("%w: parent %d of derived page %d", ErrPageNotFound, p, child)
		}
	}
	// A derived page's Data edges are exactly its binding's: refuse a
	// binding that would leave a foreign Data edge into the page.
	// Sorted once: a page with n Data edges bound to n parents took n*n
	// steps with slices.Contains (TestDataEdgeChecksOfManyParentsLinear).
	sorted := slices.Sorted(slices.Values(parents))
	for _, ed := range e.graph.AppendParents(nil, child) {
		if _, found := slices.BinarySearch(sorted, ed.Parent); ed.Type == base.EdgeData && !found {
			return fmt.Errorf("%w: page %d already has a data edge from page %d, which is not among the binding's parents %s (remove it or list it)",
				ErrPageInUse, child, ed.Parent, shownIDs(parents))
		}
	}
	if !tryEdges {
		return nil
	}
	var added []PageID
	var err error
	for _, p := range parents {
		var ok bool
		ok, err = e.graph.AddEdge(p, child, base.EdgeData)
		if err != nil {
			break
		}
		if ok {
			added = append(added, p)
		}
	}
	for _, p := range added {
		e.graph.RemoveEdge(p, child, base.EdgeData)
	}
	return err
}

func (e *Bus) bind(child PageID, fn string, params []byte, parents []PageID) {
	b := &Binding{Func: fn, Params: append([]byte(nil), params...), Parents: append([]PageID(nil), parents...)}
	waited := e.waitsBeyondDirty(child)
	e.bindings[child] = b
	e.adjustPending(child, waited)
	for _, p := range parents {
		// checkBind proved every edge can be added (no cycle) before the
		// binding was logged; an edge already present is not an error.
		_, _ = e.graph.AddEdge(p, child, base.EdgeData)
	}
	e.graphHasEdges = true
}

// markRecompute makes the next wave compute derived page id whether or not
// a parent changed, raising no flag (see Bus.recompute). Caller holds e.mu.
func (e *Bus) markRecompute(id PageID) {
	if _, ok := e.recomputeSet[id]; !ok {
		waited := e.waitsBeyondDirty(id)
		e.recomputeSet[id] = len(e.recompute)
		e.recompute = append(e.recompute, id)
		e.adjustPending(id, waited)
	}
}

func (e *Bus) unbind(child PageID) {
	b := e.bindings[child]
	if e.waitsBeyondDirty(child) {
		e.pendingExtra-- // an unbound page waits for no wave
	}
	delete(e.bindings, child)
	delete(e.derivedReads, child)
	if i, ok := e.recomputeSet[child]; ok {
		// A bus that runs no waves (a follower) must not keep every page
		// it ever saw bound. The last page listed takes the place of the
		// one removed: deleting it from the list in place moved every page
		// after it, so unbinding n pages bound since the last wave (a
		// follower, a recovery's log tail, deferred mode) took n*n/2 steps,
		// 2.8 s for 40,000.
		last := len(e.recompute) - 1
		e.recompute[i] = e.recompute[last]
		e.recomputeSet[e.recompute[i]] = i
		e.recompute = e.recompute[:last]
		delete(e.recomputeSet, child)
	}
	for _, p := range b.Parents {
		e.graph.RemoveEdge(p, child, base.EdgeData)
	}
	e.graphHasEdges = e.graph.NumEdges() > 0
}

func (e *Bus) setDerivedReads(child PageID, reads []record.ParentRead, lsn LSN) {
	dr := e.derivedReads[child]
	if dr == nil {
		dr = &Derivation{}
		e.derivedReads[child] = dr
	}
	dr.LSN = lsn
	dr.Reads = dr.Reads[:0]
	for _, r := range reads {
		dr.Reads = append(dr.Reads, ParentRead(r))
	}
}

// Derivation is the most recent propagation write of a derived page: its
// LSN and the parent pages (with their last-write LSNs) it was computed from.
type Derivation struct {
	LSN   LSN
	Reads []ParentRead
}

// commitRing is the number of recent commits whose times are kept in memory.
const commitRing = 4096

// stampCommit records a commit's LSN range and time. Caller holds e.mu.
func (e *Bus) stampCommit(first, last LSN, t int64) {
	if e.commits == nil {
		return
	}
	e.commits[e.commitCount&(commitRing-1)] = commitStamp{First: first, Last: last, Time: t}
	e.commitCount++
}

// commitTime returns the commit time of the operation at lsn if it is among
// the recent commits kept in memory.
func (e *Bus) commitTime(lsn LSN) (int64, bool) {
	n := min(e.commitCount, commitRing)
	// The ring holds commits in LSN order; search backwards from the newest.
	for i := uint64(0); i < n; i++ {
		c := &e.commits[(e.commitCount-1-i)&(commitRing-1)]
		if lsn >= c.First && lsn <= c.Last {
			return c.Time, true
		}
		if lsn > c.Last {
			return 0, false
		}
	}
	return 0, false
}

// applyOps applies decoded operations with LSNs first, first+1, ... (first
// must be e.lastLSN+1) and returns the index of a failing operation. Runs of
// plain deltas are checked in one pass and applied in a second, like a live
// batch: the two passes give the CPU independent loads to overlap (replay
// is bound by cache misses on page memory). A delta with CheckEpoch breaks
// the run: its check depends on the deltas before it.
func (e *Bus) applyOps(ops []record.Op, first LSN, t int64) (int, error) {
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].Kind == record.OpDelta && !ops[j].Delta.CheckEpoch {
			j++
		}
		if j-i >= 2 {
			if k, err := e.applyDeltaRun(ops[i:j], first+LSN(i), t); err != nil {
				return i + k, err
			}
			i = j
			continue
		}
		if err := e.applyOp(&ops[i], first+LSN(i), t); err != nil {
			return i, err
		}
		i++
	}
	return 0, nil
}

func (e *Bus) applyDeltaRun(ops []record.Op, first LSN, t int64) (int, error) {
	slots := e.slotsFor(len(ops))
	for k := range ops {
		sl, err := e.checkDelta(&ops[k].Delta, 0)
		if err != nil {
			return k, err
		}
		slots[k] = sl
	}
	// The steps of applyBatch, over the ops in place (copying the deltas out
	// to call it cost 15% of BenchmarkReplay), with history recorded here.
	if e.cow != nil {
		for k := range ops {
			e.cowSaveBytes(slots[k], &ops[k].Delta)
		}
	}
	for k := range ops {
		e.applyToPage(slots[k], &ops[k].Delta, first+LSN(k), t)
	}
	for k := e.historyFrom(len(ops)); k < len(ops); k++ {
		e.recordHistory(first+LSN(k), &ops[k].Delta, false)
	}
	if e.graphHasEdges {
		for k := range ops {
			e.markDirty(ops[k].Delta.Page)
		}
	}
	e.lastLSN = first + LSN(len(ops)) - 1
	e.lastTime = t
	return 0, nil
}
