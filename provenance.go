package mmsb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// DefaultProvenanceDepth is the derivation depth a provenance query follows
// when it is given depth 0.
const DefaultProvenanceDepth = 32

// MaxProvenanceWrites bounds the writes one answer lists, so that a wide
// derivation DAG cannot make a query unbounded; an answer cut there has
// Truncated set.
const MaxProvenanceWrites = 4096

// provCacheEntries is the number of decoded log operations kept per engine
// (a small LRU) so that repeated queries on a warm bus read no log. Each
// entry costs about 150 bytes plus its source, intent, ranges and reads.
const provCacheEntries = 1024

// ProvenanceOptions tune a provenance query. The zero value asks for the
// full answer to DefaultProvenanceDepth.
type ProvenanceOptions struct {
	// Depth bounds the derivation hops followed (0: DefaultProvenanceDepth;
	// negative: only the direct writer, no ancestors).
	Depth int
	// NoLogDetails answers from memory alone wherever the write-history
	// ring holds the chain: Source, Intent (and Time, when the commit-time
	// ring no longer holds it) are left empty, and a write matched by its
	// bounding range only is reported with Exact false. The log is still
	// read where memory no longer holds the history, and to tell a page's
	// creation from a metadata, flags or binding change (ring entries that
	// wrote no bytes) when the walk reaches one.
	NoLogDetails bool
}

// ProvenanceWrite is one operation of a provenance answer.
type ProvenanceWrite struct {
	Page PageID
	LSN  LSN
	// Kind is OpDelta, OpDerived or OpCreatePage (the
	// bytes have been zero since the page was created); 0 when Lost.
	Kind OpKind
	// Lo, Hi bound the bytes the operation wrote ([0, size) for a creation;
	// 0, 0 when unknown).
	Lo, Hi  uint32
	Derived bool   // written by propagation
	Source  string // the delta's source label (empty with NoLogDetails)
	// Intent is the delta's intent metadata: the answer's own copy, which a
	// Repeat entry shares with the entry it repeats (capacity-limited).
	Intent []byte
	Time   int64 // commit time, ns since the Unix epoch (0 if unknown)
	// Depth is the number of derivation hops from the answer (0 for
	// Writes[0]); Parent is the index in Writes of the derived write that
	// read this one (-1 for Writes[0]).
	Depth  int
	Parent int
	// FromLog: the write-history ring no longer held this part of the
	// chain, and it was found by scanning the log (slower, still exact).
	FromLog bool
	// Exact: the write is known to touch the asked bytes exactly (decoded
	// from the log, or named by a derivation record). False only with
	// NoLogDetails, where a sparse delta is matched by its bounding range.
	Exact bool
	// Repeat: this LSN is listed earlier in Writes (a DAG reached it twice);
	// its ancestors are listed there, not again.
	Repeat bool
	// Lost: the history needed is no longer anywhere (older than the
	// oldest log record, or a bus without a log). A derived write whose
	// derivation record is gone has one Lost entry (Page 0) for its
	// parents.
	Lost bool
}

// ProvenanceResult answers "which operation last wrote these bytes, and what
// was it computed from".
type ProvenanceResult struct {
	Page   PageID
	Off, N int
	// Writes[0] is the last operation that wrote any byte of [Off, Off+N)
	// of Page. For a derived write, the writes of the parent pages it was
	// computed from follow (each naming its reader in Parent), recursively.
	Writes []ProvenanceWrite
	// ChainDepth is the largest Depth in Writes.
	ChainDepth int
	// Truncated: the depth limit or MaxProvenanceWrites stopped the walk
	// before every derived write's parents were listed.
	Truncated bool
	// LogScans counts the log reads the query needed (0 on a warm bus).
	LogScans int
}

// Provenance answers which operation last wrote any byte of [off, off+n) of
// page id: its LSN, source, commit time, intent and whether propagation
// wrote it; for a derived write, the parent pages and LSNs it was computed
// from, recursively up to depth hops (0: DefaultProvenanceDepth; negative:
// the direct writer only, as ProvenanceOptions.Depth). See
// ProvenanceWith and docs/provenance.md.
func (e *Bus) Provenance(ctx context.Context, id PageID, off, n int, depth int) (*ProvenanceResult, error) {
	if err := checkCtx(ctx, "Bus.Provenance"); err != nil {
		return nil, err
	}
	return e.ProvenanceWith(ctx, id, off, n, ProvenanceOptions{Depth: depth})
}

// ProvenanceWith is Provenance with options.
//
// The page's write chain is walked backwards through the in-memory history
// ring (each entry links to the page's previous write). An entry whose
// bounding range overlaps the asked range is confirmed by decoding the
// delta from the log (a sparse delta's bounding range may cover bytes it
// did not write); with NoLogDetails it is taken as is and reported with
// Exact false. Where the ring no longer holds the chain, the log is scanned
// forward instead. Source and intent come from the log record; decoded
// records are kept in a small per-engine LRU, so a warm query reads no log.
//
// Errors: ErrPageNotFound, ErrOutOfRange (range past the page's end),
// ErrInvalidOption (n <= 0 or off < 0), ErrClosed, context errors, and log
// read errors.
func (e *Bus) ProvenanceWith(ctx context.Context, id PageID, off, n int, o ProvenanceOptions) (*ProvenanceResult, error) {
	if err := checkCtx(ctx, "Bus.ProvenanceWith"); err != nil {
		return nil, err
	}
	if n <= 0 || off < 0 {
		return nil, fmt.Errorf("%w: provenance range [%d, %d+%d) of page %d: the offset must be 0 or more and the length 1 or more", ErrInvalidOption, off, off, n, id)
	}
	if off > MaxPageSize || n > MaxPageSize-off {
		// Checked before the bounds become 32-bit: a range past 4 GiB
		// would wrap around into the page.
		return nil, fmt.Errorf("%w: provenance range [%d, %d+%d) of page %d is past the largest page size %d", ErrOutOfRange, off, off, n, id, MaxPageSize)
	}
	depth := o.Depth
	if depth == 0 {
		depth = DefaultProvenanceDepth
	}
	q := &provQuery{e: e, details: !o.NoLogDetails, depth: depth, cache: e.provCache, seen: map[LSN]int{}}
	res := &ProvenanceResult{Page: id, Off: off, N: n}
	q.res = res
	root, err := q.root(ctx, id, uint32(off), uint32(off+n))
	if err != nil {
		return nil, err
	}
	res.Writes = append(res.Writes, root)
	if err := q.expand(ctx); err != nil {
		return nil, err
	}
	for i := range res.Writes {
		res.ChainDepth = max(res.ChainDepth, res.Writes[i].Depth)
	}
	if provQueryDoneHook != nil {
		provQueryDoneHook(q.decoded)
	}
	return res, nil
}

// provQueryDoneHook, when set (tests only), gets the count of log ops a
// provenance query decoded when it answers.
var provQueryDoneHook func(opsDecoded int)

// LastDerivation returns the most recent propagation write of a derived
// page that is still in memory: its LSN and the parents (with their
// last-write LSNs) it read. ok is false if none is known (never
// propagated since the bus opened, or unbound).
func (e *Bus) LastDerivation(id PageID) (Derivation, bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	d, ok := e.derivedReads[id]
	if !ok {
		return Derivation{}, false
	}
	return Derivation{LSN: d.LSN, Reads: slices.Clone(d.Reads)}, true
}

// provQuery is the state of one provenance query.
type provQuery struct {
	e       *Bus
	details bool
	depth   int
	cache   *provCache
	res     *ProvenanceResult
	seen    map[LSN]int // LSN -> index of its first listing in Writes
	// rd reads every operation the query looks up in the log, reset for
	// each (tlog.Reader.ResetAt): its 256 KiB read buffer is allocated
	// once a query, not once a step (a 64-step chain made 16 MiB).
	rd *tlog.Reader
	// rec is the record the last log lookup found, decoded in place in
	// rd's buffer, so that later lookups of its LSNs decode no op twice.
	rec provRecord
	// decoded counts the ops this query decoded from the log (tests).
	decoded int
}

// provRecordMarks bounds the op offsets kept for the record a query
// decodes (provRecord.marks, 8 bytes each): a record of more ops keeps one
// mark every few ops and decodes at most that few again per lookup.
const provRecordMarks = 1 << 15

// provRecord is a log record being decoded by a provenance query. Its
// payload is rd's buffer, valid until rd's next ResetAt; nothing else of
// it is copied, only op offsets: a parent write of each of N pages logged
// in one commit was a decode of the record up to each, N²/2 ops.
type provRecord struct {
	ok          bool
	file        string
	offset      int64
	first, last LSN
	dec         record.Decoder
	op          record.Op
	next        int   // index (from first) of the op dec stands before
	stride      int   // ops between two marks
	marks       []int // marks[j]: payload offset of op j*stride
}

// opInfo is what provenance needs of one logged operation.
type opInfo struct {
	lsn    LSN
	kind   record.OpKind
	page   PageID
	size   uint32 // create
	source string
	intent []byte
	time   int64
	ranges []uint32 // exact written ranges as (off, n) pairs
	reads  []ParentRead
}

func (oi *opInfo) overlaps(lo, hi uint32) bool {
	for i := 0; i+1 < len(oi.ranges); i += 2 {
		if oi.ranges[i] < hi && lo < oi.ranges[i]+oi.ranges[i+1] {
			return true
		}
	}
	return false
}

func (oi *opInfo) bounds() (lo, hi uint32) {
	if oi.kind == record.OpCreatePage {
		return 0, oi.size
	}
	if len(oi.ranges) < 2 {
		return 0, 0
	}
	last := len(oi.ranges) - 2
	return oi.ranges[0], oi.ranges[last] + oi.ranges[last+1]
}

// ringEntry returns the history entry for lsn if the ring still holds it.
// Caller holds e.mu.
func (e *Bus) ringEntry(lsn LSN) (histEntry, bool) {
	if e.hist == nil || lsn == 0 {
		return histEntry{}, false
	}
	h := e.hist[uint64(lsn)&e.histMask]
	return h, h.LSN == lsn
}

// root finds the last writer of [lo, hi) of page id.
func (q *provQuery) root(ctx context.Context, id PageID, lo, hi uint32) (ProvenanceWrite, error) {
	e := q.e
	e.rlockSettled()
	if e.closed {
		e.mu.RUnlock()
		return ProvenanceWrite{}, ErrClosed
	}
	sl, ok := e.store.Lookup(id)
	if !ok {
		e.mu.RUnlock()
		return ProvenanceWrite{}, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	size := e.store.Size(sl)
	if int(hi) > size {
		e.mu.RUnlock()
		return ProvenanceWrite{}, fmt.Errorf("%w: provenance range [%d, %d) of page %d (size %d)", ErrOutOfRange, lo, hi, id, size)
	}
	lsn := e.store.LastLSN(sl)
	e.mu.RUnlock()
	w := ProvenanceWrite{Page: id, Parent: -1}
	for lsn != 0 {
		if err := ctx.Err(); err != nil {
			return w, err
		}
		e.rlockSettled()
		h, ok := e.ringEntry(lsn)
		e.mu.RUnlock()
		if !ok || h.Page != id {
			return q.scanForWriter(ctx, id, lo, hi, lsn)
		}
		if h.End() == 0 {
			// An operation on the page that wrote no bytes: its creation,
			// or a metadata, flags or binding change. Only the log says
			// which (one cached lookup); only a creation ends the walk.
			oi, err := q.lookup(ctx, lsn)
			if err != nil {
				return w, err
			}
			if oi == nil {
				return q.scanForWriter(ctx, id, lo, hi, lsn)
			}
			if oi.kind == record.OpCreatePage {
				w.LSN, w.Kind, w.Hi, w.Exact = lsn, OpCreatePage, uint32(size), true
				return w, q.fill(ctx, &w, oi)
			}
		} else if h.Lo < hi && lo < h.End() {
			w.LSN, w.Lo, w.Hi, w.Derived = lsn, h.Lo, h.End(), h.Derived()
			w.Kind = OpDelta
			if w.Derived {
				w.Kind = OpDerived
			}
			if !q.details {
				// The bounding range's first and last bytes are always
				// written, so an ask holding either is exact without the log.
				w.Exact = lo <= h.Lo && h.Lo < hi || lo < h.End() && h.End() <= hi
				return w, q.fill(ctx, &w, nil)
			}
			oi, err := q.lookup(ctx, lsn)
			if err != nil {
				return w, err
			}
			if oi != nil && oi.overlaps(lo, hi) {
				w.Exact = true
				return w, q.fill(ctx, &w, oi)
			}
			if oi == nil {
				return q.scanForWriter(ctx, id, lo, hi, lsn)
			}
			// A sparse delta whose bounding range covers the ask without
			// writing it: keep walking.
		}
		e.rlockSettled()
		prev, ok := e.histPrev(id, lsn)
		e.mu.RUnlock()
		if !ok {
			return q.scanForWriter(ctx, id, lo, hi, lsn)
		}
		lsn = prev
	}
	w.Lost = true
	return w, nil
}

// fill completes w's details (time, source, intent, kind) from memory and,
// when wanted or needed, the log. oi is the decoded op if already known.
func (q *provQuery) fill(ctx context.Context, w *ProvenanceWrite, oi *opInfo) error {
	e := q.e
	e.rlockSettled()
	t, ok := e.commitTime(w.LSN)
	h, inRing := e.ringEntry(w.LSN)
	e.mu.RUnlock()
	if ok {
		w.Time = t
	}
	if inRing && h.Page == w.Page && w.Kind == 0 {
		if h.End() == 0 {
			w.Kind = OpCreatePage
		} else {
			w.Kind, w.Lo, w.Hi, w.Derived = OpDelta, h.Lo, h.End(), h.Derived()
			if w.Derived {
				w.Kind = OpDerived
			}
		}
	}
	if oi == nil && (q.details || !inRing || (w.Kind == 0)) {
		var err error
		if oi, err = q.lookup(ctx, w.LSN); err != nil {
			return err
		}
		if oi == nil {
			if w.Kind == 0 {
				w.Lost = true
			}
			return nil
		}
		if !inRing {
			w.FromLog = true
		}
	}
	if oi != nil {
		q.apply(w, oi)
	}
	return nil
}

// apply copies a decoded op's details into w.
func (q *provQuery) apply(w *ProvenanceWrite, oi *opInfo) {
	w.Kind = OpKind(oi.kind)
	w.Derived = oi.kind == record.OpDerived
	w.Lo, w.Hi = oi.bounds()
	// The op is cached and shared by later queries: the answer gets its own
	// copy of the intent.
	w.Source, w.Intent = oi.source, slices.Clone(oi.intent)
	if w.Time == 0 {
		w.Time = oi.time
	}
}

// expand lists the parents of every derived write, breadth first, to the
// depth limit.
func (q *provQuery) expand(ctx context.Context) error {
	res := q.res
	q.seen[res.Writes[0].LSN] = 0
	for i := 0; i < len(res.Writes); i++ {
		w := &res.Writes[i]
		if !w.Derived || w.Repeat || w.Lost {
			continue
		}
		if w.Depth >= q.depth || q.depth < 0 {
			res.Truncated = true
			continue
		}
		reads, known, err := q.readsOf(ctx, w.Page, w.LSN)
		if err != nil {
			return err
		}
		parentDepth, parentIdx := w.Depth+1, i
		if !known {
			// The derivation record is gone: its parents cannot be named,
			// and listing none would say the write read nothing.
			if len(res.Writes) >= MaxProvenanceWrites {
				res.Truncated = true
				return nil
			}
			res.Writes = append(res.Writes, ProvenanceWrite{Depth: parentDepth, Parent: parentIdx, Lost: true})
			continue
		}
		for _, r := range reads {
			if len(res.Writes) >= MaxProvenanceWrites {
				res.Truncated = true
				return nil
			}
			c := ProvenanceWrite{Page: r.Page, LSN: r.LSN, Depth: parentDepth, Parent: parentIdx, Exact: true}
			if first, dup := q.seen[r.LSN]; dup && r.LSN != 0 {
				src := res.Writes[first]
				// The intent is shared, not copied again: a write named by
				// up to MaxProvenanceWrites paths, each copy of a 1 MiB
				// intent, made an answer of gigabytes.
				c.Kind, c.Lo, c.Hi, c.Derived, c.Source, c.Intent, c.Time = src.Kind, src.Lo, src.Hi, src.Derived, src.Source, src.Intent[:len(src.Intent):len(src.Intent)], src.Time
				c.Repeat = true
			} else if r.LSN == 0 {
				c.Lost = true
			} else {
				if err := q.fill(ctx, &c, nil); err != nil {
					return err
				}
				q.seen[r.LSN] = len(res.Writes)
			}
			res.Writes = append(res.Writes, c)
		}
	}
	return nil
}

// readsOf returns the parent reads of the derived write of page at lsn,
// from memory when it is the page's latest derivation, else from the log;
// known is false when neither holds them any more.
func (q *provQuery) readsOf(ctx context.Context, id PageID, lsn LSN) (reads []ParentRead, known bool, err error) {
	e := q.e
	e.rlockSettled()
	if d, ok := e.derivedReads[id]; ok && d.LSN == lsn {
		reads := slices.Clone(d.Reads)
		e.mu.RUnlock()
		return reads, true, nil
	}
	e.mu.RUnlock()
	oi, err := q.lookup(ctx, lsn)
	if err != nil || oi == nil {
		return nil, false, err
	}
	return oi.reads, true, nil
}

// lookup returns the decoded op at lsn (nil if the log does not hold it).
func (q *provQuery) lookup(ctx context.Context, lsn LSN) (*opInfo, error) {
	if oi := q.cache.get(lsn); oi != nil {
		return oi, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fs, wal, ok := q.e.logLocation()
	if !ok {
		return nil, nil
	}
	q.res.LogScans++
	pos, _ := q.e.locate(lsn)
	oi, err := q.readOpAt(fs, wal, pos, lsn)
	if err == nil && oi == nil {
		// The op may be applied but not yet written by its committer: make
		// everything appended so far readable and look once more.
		if ferr := q.e.Flush(ctx); ferr != nil {
			return nil, ferr
		}
		oi, err = q.readOpAt(fs, wal, pos, lsn)
	}
	if err != nil || oi == nil {
		return nil, err
	}
	q.cache.put(oi)
	return oi, nil
}

// logLocation returns where the engine's log lives, if it has one.
func (e *Bus) logLocation() (vfs.FS, string, bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.log == nil || e.closed {
		return nil, "", false
	}
	return e.fs, e.walDir(), true
}

// locate returns the log's indexed position at or before lsn, if any.
func (e *Bus) locate(lsn LSN) (tlog.Position, bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	if e.log == nil {
		return tlog.Position{}, false
	}
	return e.log.Locate(lsn)
}

// readOpAt reads and decodes the operation at lsn from the log in walDir,
// starting at pos (from the log's sparse index; the zero Position scans
// lsn's segment from its start); nil if the log does not hold it. It
// reads with the query's reader (q.rd), closed again when it returns.
func (q *provQuery) readOpAt(fs vfs.FS, walDir string, pos tlog.Position, lsn LSN) (*opInfo, error) {
	if q.rec.ok && q.rec.first <= lsn && lsn <= q.rec.last {
		return q.opInRecord(lsn)
	}
	// ResetAt below makes the buffer holding the record's payload reusable.
	q.rec.ok = false
	var err error
	if q.rd == nil {
		q.rd, err = tlog.NewReaderAt(fs, walDir, pos, lsn)
	} else {
		err = q.rd.ResetAt(fs, walDir, pos, lsn)
	}
	if err != nil {
		if vfs.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	r := q.rd
	// Closing leaves the last record's payload in r's buffer (q.rec).
	defer r.Close()
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if rec.FirstLSN > lsn {
			return nil, nil
		}
		if rec.LastLSN() < lsn {
			continue
		}
		c := &q.rec
		if err := c.dec.Reset(rec.Payload); err != nil {
			return nil, corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
		}
		c.ok, c.file, c.offset, c.first, c.last = true, rec.File, rec.Offset, rec.FirstLSN, rec.LastLSN()
		c.next, c.marks = 0, c.marks[:0]
		c.stride = max(1, (int(rec.Count)+provRecordMarks-1)/provRecordMarks)
		return q.opInRecord(lsn)
	}
}

// opInRecord decodes the op at lsn of q.rec, which holds it: from the
// op the decoder stands before when that is at or before lsn, else from
// the nearest mark before lsn. Ops passed by are skimmed (their lists
// are not copied) and their offsets marked, so a query that looks up
// every op of a record, in any order, decodes each about once.
func (q *provQuery) opInRecord(lsn LSN) (*opInfo, error) {
	c := &q.rec
	k := int(lsn - c.first)
	if j := min(k/c.stride, len(c.marks)-1); j >= 0 && (c.next > k || j*c.stride > c.next) {
		c.next = j * c.stride
		c.dec.Rewind(c.marks[j])
	}
	for ; c.next <= k; c.next++ {
		if c.next%c.stride == 0 && c.next/c.stride == len(c.marks) {
			c.marks = append(c.marks, c.dec.Offset())
		}
		var err error
		if c.next == k {
			err = c.dec.Next(&c.op)
		} else {
			err = c.dec.Skim(&c.op)
		}
		q.decoded++
		if err != nil {
			// The decoder stands nowhere known: the next lookup reads
			// the record again.
			c.ok = false
			return nil, corruption.Wrap(c.file, c.offset, err, "undecodable record")
		}
	}
	return newOpInfo(&c.op, lsn, c.dec.Time), nil
}

// newOpInfo copies what provenance needs out of a decoded op (whose slices
// alias a reader buffer).
func newOpInfo(op *record.Op, lsn LSN, t int64) *opInfo {
	oi := &opInfo{lsn: lsn, kind: op.Kind, time: t}
	switch op.Kind {
	case record.OpDelta, record.OpDerived:
		d := &op.Delta
		oi.page = d.Page
		oi.source = d.Source
		if len(d.Intent) > 0 {
			oi.intent = slices.Clone(d.Intent)
		}
		delta.Ranges(d, func(off, n uint32) { oi.ranges = append(oi.ranges, off, n) })
		if op.Kind == record.OpDerived {
			oi.reads = readsOut(op.Reads)
		}
	case record.OpCreatePage:
		oi.page, oi.size = op.Page, op.Size
	default:
		oi.page = op.Page
	}
	return oi
}

// scanForWriter finds the last writer of [lo, hi) of page id among the
// operations with LSN <= upto by scanning the log forward from its start:
// the fallback when the history ring no longer holds the page's chain.
func (q *provQuery) scanForWriter(ctx context.Context, id PageID, lo, hi uint32, upto LSN) (ProvenanceWrite, error) {
	w := ProvenanceWrite{Page: id, Parent: -1, FromLog: true}
	fs, wal, ok := q.e.logLocation()
	if !ok {
		w.Lost = true
		return w, nil
	}
	if err := q.e.Flush(ctx); err != nil {
		return w, err
	}
	q.res.LogScans++
	r, err := tlog.NewReader(fs, wal, 0)
	if err != nil {
		if vfs.IsNotExist(err) {
			w.Lost = true
			return w, nil
		}
		return w, err
	}
	defer r.Close()
	var dec record.Decoder
	var op record.Op
	var best *opInfo
scan:
	for n := 0; ; n++ {
		if n&255 == 255 {
			if err := ctx.Err(); err != nil {
				return w, err
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return w, err
		}
		if rec.FirstLSN > upto {
			break
		}
		if err := dec.Reset(rec.Payload); err != nil {
			return w, corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
		}
		for l := rec.FirstLSN; l <= rec.LastLSN(); l++ {
			if l > upto {
				break scan
			}
			if err := dec.Next(&op); err != nil {
				return w, corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
			}
			switch op.Kind {
			case record.OpCreatePage:
				if op.Page == id {
					best = newOpInfo(&op, l, dec.Time)
				}
			case record.OpFreePage:
				if op.Page == id {
					best = nil
				}
			case record.OpDelta, record.OpDerived:
				if op.Delta.Page != id {
					continue
				}
				oi := newOpInfo(&op, l, dec.Time)
				if oi.overlaps(lo, hi) {
					best = oi
					q.cache.put(oi)
				}
			}
		}
	}
	if best == nil {
		w.Lost = true
		return w, nil
	}
	w.LSN, w.Exact = best.lsn, true
	q.apply(&w, best)
	q.e.rlockSettled()
	if t, ok := q.e.commitTime(w.LSN); ok {
		w.Time = t
	}
	q.e.mu.RUnlock()
	return w, nil
}

// provCache is a small LRU of decoded log operations, one per bus
// (Bus.provCache), shared by its provenance queries.
type provCache struct {
	mu    sync.Mutex
	items map[LSN]*provCacheItem
	head  provCacheItem // sentinel of a circular list, most recent first
}

type provCacheItem struct {
	oi         *opInfo
	prev, next *provCacheItem
}

func newProvCache() *provCache {
	c := &provCache{items: make(map[LSN]*provCacheItem)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

func (c *provCache) unlink(it *provCacheItem) {
	it.prev.next, it.next.prev = it.next, it.prev
}

func (c *provCache) pushFront(it *provCacheItem) {
	it.prev, it.next = &c.head, c.head.next
	c.head.next.prev = it
	c.head.next = it
}

func (c *provCache) get(lsn LSN) *opInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[lsn]
	if !ok {
		return nil
	}
	c.unlink(it)
	c.pushFront(it)
	return it.oi
}

func (c *provCache) put(oi *opInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[oi.lsn]; ok {
		it.oi = oi
		c.unlink(it)
		c.pushFront(it)
		return
	}
	it := &provCacheItem{oi: oi}
	c.items[oi.lsn] = it
	c.pushFront(it)
	if len(c.items) > provCacheEntries {
		old := c.head.prev
		c.unlink(old)
		delete(c.items, old.oi.lsn)
	}
}
