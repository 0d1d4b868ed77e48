package mmsb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/logquery"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// LogQuery selects logged operations. Zero fields do not filter. ToTime
// before FromTime, or a kind that is not one, is ErrInvalidOption; an
// empty LSN range (ToLSN before FromLSN) selects nothing.
type LogQuery struct {
	// Page: operations on this page: deltas (derived ones too), create,
	// free, meta, flags, and the bind and unbind of a derived page (by
	// the derived page, not its parents); edges by either end. No wave op
	// (OpWave) matches a page.
	Page     PageID
	FromLSN  LSN    // first LSN (inclusive)
	ToLSN    LSN    // last LSN (inclusive)
	FromTime int64  // commit time >= FromTime (ns)
	ToTime   int64  // commit time <= ToTime (ns)
	Source   string // deltas whose Source equals this ("propagation" selects derived deltas)
	Kinds    []OpKind
}

// LoggedOp is one operation found by a query. Op and its slices are valid
// only during the callback (they alias the log reader's buffer, which is
// reused for the next operation, and by later queries once this one
// returns): copy what is kept.
type LoggedOp struct {
	LSN  LSN
	Time int64 // commit time, ns since the Unix epoch
	Op   *Op
	File string // segment holding the record
	// BatchLast is the last LSN of the record (a Commit's batch, a
	// propagation wave, a CreatePages) that holds this op: a replay or
	// as-of read to LSN stops there (Bus.ReadPageAt answers its state).
	BatchLast LSN
}

// Op is one logged operation. Which fields are set depends on Kind, as
// noted beside each field; those of other kinds are zero.
type Op struct {
	Kind OpKind

	Delta Delta // OpDelta, OpDerived

	Page     PageID      // create, free, meta, unbind, flags; bind: the child; deltas: Delta.Page
	Size     uint32      // create
	Location Location    // create
	Meta     []MetaEntry // create, meta
	Flags    uint8       // flags

	Parent, Child PageID   // add-edge, remove-edge
	EdgeType      EdgeType // add-edge, remove-edge (AllEdgeTypes: every type)

	Func    string   // bind: recompute function name
	Params  []byte   // bind
	Parents []PageID // bind: ordered parents

	Reads []ParentRead // OpDerived: the parents read and their LSNs

	// OpWave: the pages written while the wave computed (still dirty after
	// it) and the derived pages it held back (the next wave retries them),
	// each ascending.
	Dirty, Held []PageID
}

// AllEdgeTypes is an Op's EdgeType in an OpRemoveEdge that removed every
// type of edge between two pages (RemoveEdges).
const AllEdgeTypes = EdgeType(record.AllEdgeTypes)

// setFrom fills o from a decoded record op, reusing o's slices. Metadata is
// decoded (it is stored encoded in the log).
//
// Only the fields of op's kind are set, the others left zero: the record
// decoder reuses op and leaves the fields of other kinds as they were (a
// skimmed one's lists too), and a plain delta came with the parent reads
// of the last derived write decoded before it, the parents of the last
// Bind and the page of the last creation (TestQueryLogOpHoldsItsKindOnly).
// A delta's Page is its delta's page, as a client's QueryLog answers it.
func (o *Op) setFrom(op *record.Op) error {
	reads, meta := o.Reads[:0], o.Meta[:0]
	*o = Op{Kind: OpKind(op.Kind)}
	switch op.Kind {
	case record.OpDelta, record.OpDerived:
		o.Delta, o.Page = op.Delta, op.Delta.Page
		if op.Kind == record.OpDerived {
			for _, r := range op.Reads {
				reads = append(reads, ParentRead(r))
			}
		}
	case record.OpCreatePage:
		o.Page, o.Size, o.Location = op.Page, op.Size, Location(op.Location)
	case record.OpFreePage, record.OpUnbind, record.OpSetMeta:
		o.Page = op.Page
	case record.OpSetFlags:
		o.Page, o.Flags = op.Page, op.Flags
	case record.OpAddEdge, record.OpRemoveEdge:
		o.Parent, o.Child, o.EdgeType = op.Parent, op.Child, EdgeType(op.EdgeType)
	case record.OpBind:
		o.Page, o.Func, o.Params, o.Parents = op.Page, op.Func, op.Params, op.Parents
	case record.OpWave:
		o.Dirty, o.Held = op.Dirty, op.Held
	}
	o.Reads = reads // empty but for a derived write: kept for the next one
	// Only creations and metadata changes carry metadata.
	hasMeta := op.Kind == record.OpCreatePage || op.Kind == record.OpSetMeta
	if hasMeta && len(op.Meta) > 0 {
		entries, err := page.DecodeMeta(op.Meta)
		if err != nil {
			return err
		}
		for _, m := range entries {
			meta = append(meta, MetaEntry(m))
		}
	}
	if hasMeta {
		o.Meta = meta
	}
	return nil
}

// queryRedecodeHook, when set (by tests), is called each time queryLog
// decodes again an operation it skimmed.
var queryRedecodeHook func()

// inRanges reports whether an operation at lsn, committed at t, lies in
// q's LSN and time ranges.
func (q *LogQuery) inRanges(lsn LSN, t int64) bool {
	return (q.FromLSN == 0 || lsn >= q.FromLSN) && (q.ToLSN == 0 || lsn <= q.ToLSN) &&
		(q.FromTime == 0 || t >= q.FromTime) && (q.ToTime == 0 || t <= q.ToTime)
}

func (q *LogQuery) match(lsn LSN, t int64, op *record.Op) bool {
	if !q.inRanges(lsn, t) {
		return false
	}
	if len(q.Kinds) > 0 {
		ok := false
		for _, k := range q.Kinds {
			ok = ok || k == OpKind(op.Kind)
		}
		if !ok {
			return false
		}
	}
	isDelta := op.Kind == record.OpDelta || op.Kind == record.OpDerived
	if q.Source != "" && (!isDelta || op.Delta.Source != q.Source) {
		return false
	}
	if q.Page != 0 {
		switch op.Kind {
		case record.OpDelta, record.OpDerived:
			return op.Delta.Page == q.Page
		case record.OpAddEdge, record.OpRemoveEdge:
			return op.Parent == q.Page || op.Child == q.Page
		default:
			return op.Page == q.Page
		}
	}
	return true
}

// QueryLogDir streams the operations of the log in dir (on fs) that match
// q, in LSN order, calling fn for each until it returns false. It never
// loads the whole log: one record is in memory at a time, and segments that
// end before q.FromLSN are skipped. A q.FromLSN older than the log's first
// record (its segments were removed once a checkpoint covered them), or
// than its oldest segment's first LSN when it holds no record (a log
// restarted empty after a checkpoint), is ErrLogTruncated, before fn is
// called. A nil fs or fn, or a dir that does not exist, is
// ErrInvalidOption. A dir holding a checkpoint and no wal/
// is ErrCorruption naming wal/, as Open and Replay refuse it: its log was
// removed (it was answered as a log holding no operation). A dir written
// by a bus without a log (Options.DisableLog) is ErrLogTruncated, whatever
// q asks, as Bus.QueryLog answers such a bus. A last segment holding only
// a torn header (a crash while an Open made it) ends the log, as Open and
// Replay read it; one named past where the log continues is ErrCorruption.
// A dir whose removed log an Open with Repair or DisableLog accepted and
// then failed, before any caller was told (checkpoints/log-mode.lost), is
// ErrCorruption naming that file: its log holds none of the operations
// committed after the newest checkpoint, and the answer read as a log
// holding every one (the next Open that succeeds reports the loss and
// removes the file). A segment removed while the query reads the log (a
// checkpoint of the bus writing it trimmed it, oldest first) is
// ErrLogTruncated, but for a query from LSN 0 before it answered any
// operation: that one lists the log again and answers from its new
// oldest record, as a query a moment later would. One removed while an
// older segment stays was not trimmed, and is ErrCorruption.
func QueryLogDir(ctx context.Context, fs vfs.FS, dir string, q LogQuery, fn func(*LoggedOp) bool) error {
	if err := checkCtx(ctx, "QueryLogDir"); err != nil {
		return err
	}
	if err := q.check(); err != nil {
		return err
	}
	if fs == nil {
		return fmt.Errorf("%w: QueryLogDir: nil filesystem (vfs.Default is the OS's)", ErrInvalidOption)
	}
	if err := checkQueryFunc(fn); err != nil {
		return err
	}
	if err := checkBusDir(fs, dir); err != nil {
		return fmt.Errorf("log query: %w", err)
	}
	if err := checkLogRemoved(fs, dir); err != nil {
		return fmt.Errorf("log query: %w", err)
	}
	if err := checkWrittenWithoutLog(fs, dir); err != nil {
		return fmt.Errorf("log query: %w", err)
	}
	if first := pendingLoss(fs, dir); first != 0 {
		return fmt.Errorf("log query: %w: %s marks a removed log that an Open with Options.Repair or Options.DisableLog accepted and failed after: the operations committed from LSN %d on (if any) are lost, and the log holds none of them "+
			"(the next Open that succeeds reports the loss in Recovery().Log and removes the file)", ErrCorruption, fs.Join(dir, "checkpoints", tlog.LossPendingFileName), first)
	}
	if first, last := repairLoss(fs, dir); first != 0 {
		upTo := "its end unknown"
		if last != LostLSNUnknown {
			upTo = fmt.Sprintf("to LSN %d", last)
		}
		return fmt.Errorf("log query: %w: %s records the operations from LSN %d on (%s) lost: an Open with Options.Repair cut them from the log and failed after, and the log holds none of them "+
			"(the next Open that succeeds reports the loss in Recovery().Log and removes the file)", ErrCorruption, fs.Join(dir, "wal", tlog.RepairLostFileName), first, upTo)
	}
	if err := checkLogReachesNewestCheckpoint(fs, dir); err != nil {
		return fmt.Errorf("log query: %w", err)
	}
	return queryLog(ctx, fs, dir, q, nil, fn)
}

// checkLogReachesNewestCheckpoint refuses, as Open and Replay do, a log
// that ends before the newest checkpoint's LSN (logReachesCheckpoint): a
// log cut in half before it was answered as the whole history, the
// commits after the checkpoint missing without a word
// (TestOpenRefusesTornTailBeforeCheckpoint). A live bus writes a
// checkpoint only once its log durably holds the LSN, so the log read
// after the listing reaches it.
func checkLogReachesNewestCheckpoint(fs vfs.FS, dir string) error {
	ckpts, err := checkpointFiles(fs, fs.Join(dir, "checkpoints"))
	if err != nil {
		if vfs.IsNotExist(err) {
			return nil
		}
		return err
	}
	if len(ckpts) == 0 {
		return nil
	}
	return logReachesCheckpoint(fs, fs.Join(dir, "wal"), ckpts[0].Path, ckpts[0].LSN)
}

// checkWrittenWithoutLog refuses a directory written by a bus without a
// log (its checkpoints/log-mode says so, and wal/ holds no segment) with
// ErrLogTruncated, as Bus.QueryLog refuses such a bus: its empty wal/ was
// answered as a log holding no operation, as if nothing had been
// committed. A mode that does not read is left to the query (the log is
// what it reads); segments beside "no log" (a crash in an Open without a
// log, before it removed them) are a log and are read.
func checkWrittenWithoutLog(fs vfs.FS, dir string) error {
	ckDir := fs.Join(dir, "checkpoints")
	m, err := tlog.ReadMode(fs, ckDir)
	if err != nil || m != tlog.ModeNoLog {
		return nil
	}
	walDir := fs.Join(dir, "wal")
	if has, err := tlog.HasSegment(fs, walDir); err != nil || has {
		return nil
	}
	return fmt.Errorf("%w: %s was written by a bus without a log (Options.DisableLog, %s says so): %s holds no operation of it", ErrLogTruncated, dir, fs.Join(ckDir, tlog.ModeFileName), walDir)
}

// emptyLogTruncated is ErrLogTruncated when the log in walDir, which
// holds no record from from on, starts past from: its oldest segment is
// named for a later LSN, the LSNs before it being held by a checkpoint
// only (Bus.QueryLog refuses the same query on the open bus).
func emptyLogTruncated(fs vfs.FS, walDir string, from LSN) error {
	names, err := fs.List(walDir)
	if err != nil {
		return nil // the reader listed it: gone since, nothing to answer
	}
	var oldest LSN
	for _, name := range names {
		if first, ok := tlog.ParseSegmentName(name); ok && (oldest == 0 || first < oldest) {
			oldest = first
		}
	}
	if oldest > from {
		return fmt.Errorf("%w: wanted LSN %d, the log holds none before LSN %d", ErrLogTruncated, from, oldest)
	}
	return nil
}

// checkQueryFunc refuses a nil callback before anything is read: it
// panicked at the first matching operation, or never when none matched.
func checkQueryFunc(fn func(*LoggedOp) bool) error {
	if fn == nil {
		return fmt.Errorf("%w: log query: nil callback", ErrInvalidOption)
	}
	return nil
}

// check refuses a query that contradicts itself: ToTime before FromTime,
// or a kind that is not one. Each answered nothing, which reads as "no
// such operation" (found by review: TestQueryContradictionsRefused). An LSN
// range [FromLSN, ToLSN] that is empty stays an empty answer: an
// incremental reader asks for [last+1, current], empty when nothing came.
func (q *LogQuery) check() error {
	if q.ToTime != 0 && q.ToTime < q.FromTime {
		return fmt.Errorf("%w: log query: ToTime %d is before FromTime %d", ErrInvalidOption, q.ToTime, q.FromTime)
	}
	for i, k := range q.Kinds {
		if k < OpDelta || k > OpWave {
			return fmt.Errorf("%w: log query: Kinds[%d] is %v, not an operation kind", ErrInvalidOption, i, k)
		}
	}
	return nil
}

// Idle log readers, kept for the next queries. Each query made a reader of
// its own: a 256 KiB read buffer, and a payload buffer as large as the
// largest record it read; the inspector's view of one page asks up to 16
// queries (its recent writes, searched in doubling LSN windows), each
// reading again a creation record of 2^17 pages that every window met,
// about 4 MiB per query (TestQueryLogReusesReaders). At most
// maxIdleQueryReaders readers are kept, each with at most
// maxKeptQueryPayload bytes of payload buffer: a record larger than that
// costs its own buffer each time it is read.
//
// A reader left idle for queryReaderIdleTime is dropped (a timer sweeps
// them, sweepQueryReaders): a process that queried once kept its readers,
// up to ~17 MiB, for its life (TestQueryLogDropsIdleReaders). Queries
// that come more often than that (the inspector's views, each second)
// keep reusing them.
const (
	maxIdleQueryReaders = 4
	maxKeptQueryPayload = 4 << 20
	queryReaderIdleTime = 30 * time.Second
)

var queryReaders struct {
	sync.Mutex
	idle  []*tlog.Reader
	since []time.Time // when each of idle was put back, ascending
	sweep *time.Timer // runs sweepQueryReaders; nil until a reader is kept
	armed bool        // whether sweep is due to run
	now   func() time.Time
}

// queryReaderNow is the clock of the idle readers (time.Now, or a test's),
// read with queryReaders held.
func queryReaderNow() time.Time {
	if queryReaders.now != nil {
		return queryReaders.now()
	}
	return time.Now()
}

// sweepQueryReaders drops the readers idle for queryReaderIdleTime or
// more, and arms its timer again for the oldest one left.
func sweepQueryReaders() {
	queryReaders.Lock()
	defer queryReaders.Unlock()
	queryReaders.armed = false
	now := queryReaderNow()
	n := 0 // readers to drop: the oldest, first in idle
	for n < len(queryReaders.idle) && now.Sub(queryReaders.since[n]) >= queryReaderIdleTime {
		n++
	}
	// slices.Delete zeroes the slots past the readers left: a copy of a
	// reader there would keep it from the collector.
	queryReaders.idle = slices.Delete(queryReaders.idle, 0, n)
	queryReaders.since = slices.Delete(queryReaders.since, 0, n)
	armQueryReaderSweep(now)
}

// armQueryReaderSweep arms the sweep for when the oldest idle reader
// will have been idle for queryReaderIdleTime, unless it is armed or no
// reader is idle. Call it with queryReaders held.
func armQueryReaderSweep(now time.Time) {
	if queryReaders.armed || len(queryReaders.idle) == 0 {
		return
	}
	d := queryReaderIdleTime - now.Sub(queryReaders.since[0])
	if queryReaders.sweep == nil {
		queryReaders.sweep = time.AfterFunc(d, sweepQueryReaders)
	} else {
		queryReaders.sweep.Reset(d)
	}
	queryReaders.armed = true
}

// takeQueryReader returns a reader of the log in walDir from from,
// starting at pos when it is a position (tlog.NewReaderAt): an idle one
// reset, or a new one.
func takeQueryReader(fs vfs.FS, walDir string, pos tlog.Position, from LSN) (*tlog.Reader, error) {
	queryReaders.Lock()
	var r *tlog.Reader
	if n := len(queryReaders.idle); n > 0 {
		r = queryReaders.idle[n-1]
		queryReaders.idle[n-1] = nil
		queryReaders.idle = queryReaders.idle[:n-1]
		queryReaders.since = queryReaders.since[:n-1]
	}
	queryReaders.Unlock()
	if r == nil {
		return tlog.NewReaderAt(fs, walDir, pos, from)
	}
	if err := r.ResetAt(fs, walDir, pos, from); err != nil {
		putQueryReader(r)
		return nil, err
	}
	return r, nil
}

// putQueryReader closes r and keeps it for a later query, if fewer than
// maxIdleQueryReaders are kept (tlog.Reader.Idle: with its buffers only),
// until it has been idle for queryReaderIdleTime.
func putQueryReader(r *tlog.Reader) {
	r.Idle(maxKeptQueryPayload)
	queryReaders.Lock()
	if len(queryReaders.idle) < maxIdleQueryReaders {
		now := queryReaderNow()
		queryReaders.idle = append(queryReaders.idle, r)
		queryReaders.since = append(queryReaders.since, now)
		armQueryReaderSweep(now)
	}
	queryReaders.Unlock()
}

// maxQueryRelists bounds how often a log query lists the log's segments
// again when one it listed is gone before it read a record (a checkpoint
// trimming the log beside it): each time a trim ran in between.
const maxQueryRelists = 8

// queryLog is QueryLogDir starting at pos (a record boundary at or before
// q.FromLSN from the live log's index) when pos is not nil, so that a
// follower reading the tail of a large segment does not scan it from the
// start each time.
func queryLog(ctx context.Context, fs vfs.FS, dir string, q LogQuery, pos *tlog.Position, fn func(*LoggedOp) bool) error {
	at := tlog.Position{} // the zero position: from the start of q.FromLSN's segment
	if pos != nil {
		at = *pos
	}
	r, err := takeQueryReader(fs, fs.Join(dir, "wal"), at, q.FromLSN)
	if err != nil {
		if vfs.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer putQueryReader(r)
	var dec record.Decoder
	var op record.Op
	lo := LoggedOp{Op: &Op{}}
	// byOp: whether anything in q but its LSN and time ranges can refuse
	// an operation, which only the operation decoded tells. When nothing
	// can, every operation in the ranges is decoded whole at once: skimmed
	// first, each Bind, derived write and wave would be decoded twice.
	byOp := len(q.Kinds) > 0 || q.Source != "" || q.Page != 0
	// reads: whether a derived write's parent reads are decoded
	// (logquery.WithoutParentReads: not). Without them every operation
	// is skimmed first, and only a Bind or wave decoded again whole.
	reads := !logquery.ParentReadsOmitted(ctx)
	// bp: a cap on the parents of each Bind decoded
	// (logquery.WithBindParents), with their count set for the caller.
	// At 0 a Bind is not decoded again after its skim.
	bp := logquery.BindParentsOf(ctx)
	if bp != nil {
		dec.MaxParents = max(bp.Max, 1) // Max 0: not decoded again (below)
	}
	var due LSN // the LSN after the last record read (0: none read yet)
	relists := 0
	for {
		first := due == 0 // no record read yet
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		if err != nil && vfs.IsNotExist(err) {
			// A segment listed was removed before the reader opened it:
			// a checkpoint of the bus writing the log trimmed it. The
			// bare "no such file" of the open was answered, which a
			// watch's catch-up took for an internal error rather than a
			// compacted LSN (TestQueryLogDirSegmentRemovedWhileRead).
			// A trim removes the oldest segments first: the log then
			// starts past the LSN the query wanted (ErrLogTruncated).
			// One removed while older ones stay was lost, not trimmed
			// (by hand, a Repair cutting the log): ErrCorruption, as a
			// query a moment later meets its gap; "truncated" told the
			// caller a checkpoint covered the LSNs
			// (TestQueryLogDirMiddleSegmentRemovedWhileRead). From LSN
			// 0, before any record, the log is listed again, as a
			// query a moment later would list it.
			walDir := fs.Join(dir, "wal")
			if wanted := max(due, q.FromLSN); wanted != 0 {
				if terr := emptyLogTruncated(fs, walDir, wanted); terr != nil {
					return fmt.Errorf("%w (a checkpoint removed its segment while the query read the log: %w)", terr, err)
				}
				return fmt.Errorf("%w: wanted LSN %d, which the log still should hold (it starts at or before it), but a segment was removed while the query read the log: %w", ErrCorruption, wanted, err)
			}
			if relists < maxQueryRelists {
				relists++
				pos = nil // its segment may be the one removed
				if err := r.ResetAt(fs, walDir, tlog.Position{}, q.FromLSN); err != nil {
					return err
				}
				continue
			}
			// Trimmed under each listing: said as Replay says it, not
			// as the bare "no such file" of the open
			// (TestQueryLogDirTrimmedAtEachListing).
			return fmt.Errorf("%w: the log was trimmed while the query listed it, %d times (checkpoints of the bus writing %s; try again): %w", ErrLogTruncated, relists+1, dir, err)
		}
		if err != nil && !errors.Is(err, io.EOF) && queryTornEnd(fs, fs.Join(dir, "wal"), err, due, q.FromLSN) {
			// A last segment holding only a torn header (a crash while
			// an Open made it) holds no record, as Open and Replay read
			// it (tornLast): refused as corruption, the log of a bus
			// that opened could not be queried
			// (TestQueryLogDirTornHeaderOfLastSegment).
			err = io.EOF
		}
		if errors.Is(err, io.EOF) {
			if first && pos == nil && q.FromLSN != 0 {
				// No record to compare q.FromLSN with: the oldest
				// segment's name says where the log starts (a log
				// restarted empty after its checkpoint, as Open with a
				// log leaves the directory of a bus without a log).
				// Before, such a log was answered as holding no
				// operation from q.FromLSN on, the LSNs before the
				// checkpoint included (TestQueryLogDirEmptyLogAfterCheckpoint).
				return emptyLogTruncated(fs, fs.Join(dir, "wal"), q.FromLSN)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if first && q.FromLSN != 0 && rec.FirstLSN > q.FromLSN {
			// The segments holding q.FromLSN were removed: answering
			// from later on would pass a gap off as the whole history.
			return fmt.Errorf("%w: wanted LSN %d, the log starts at LSN %d", ErrLogTruncated, q.FromLSN, rec.FirstLSN)
		}
		due = rec.LastLSN() + 1
		if q.ToLSN != 0 && rec.FirstLSN > q.ToLSN {
			return nil
		}
		if err := dec.Reset(rec.Payload); err != nil {
			return corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
		}
		if q.ToTime != 0 && dec.Time > q.ToTime {
			return nil // commit times never decrease along the log
		}
		lsn := rec.FirstLSN
		for i := uint32(0); i < rec.Count; i, lsn = i+1, lsn+1 {
			// Skimmed first, decoded whole only if it matches: the
			// lists of an operation passed by (a Bind's parents, a
			// derived write's parent reads, a wave's page sets) are not
			// copied, which cost a query for one page's writes MBs for
			// each Bind or derived write of 2^16 parents in its range
			// (TestRecentWritesSkipBigRecords in internal/inspector).
			if !byOp && reads && (bp == nil || bp.Max > 0) && q.inRanges(lsn, dec.Time) {
				if err := dec.Next(&op); err != nil {
					return corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
				}
			} else {
				start := dec.Offset()
				if err := dec.Skim(&op); err != nil {
					return corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
				}
				if !q.match(lsn, dec.Time, &op) {
					continue
				}
				if (op.Kind == record.OpBind && (bp == nil || bp.Max > 0)) || op.Kind == record.OpWave || (op.Kind == record.OpDerived && reads) {
					if queryRedecodeHook != nil {
						queryRedecodeHook()
					}
					dec.Rewind(start)
					if err := dec.Next(&op); err != nil {
						return corruption.Wrap(rec.File, rec.Offset, err, "undecodable record")
					}
				}
			}
			if err := lo.Op.setFrom(&op); err != nil {
				return corruption.Wrap(rec.File, rec.Offset, err, "metadata of LSN %d", lsn)
			}
			if bp != nil && op.Kind == record.OpBind {
				bp.Total = dec.BindParents
			}
			lo.LSN, lo.Time, lo.File, lo.BatchLast = lsn, dec.Time, rec.File, LSN(rec.LastLSN())
			if !fn(&lo) {
				return nil
			}
		}
	}
}

// queryTornEnd reports whether err, met by a log query of walDir, is the
// torn header of the log's last segment, which ends the log (tornLast).
// due is the LSN after the last record the query read, or 0 when it read
// none: then the segment must be named for from (or before it) to continue
// the log, unless it is wal/'s only segment, with which the log starts
// (a first Open's crash, or one after a checkpoint, whose LSN says where
// its log is due: a query from before it is ErrLogTruncated, as for such
// a segment whole and empty). A segment named past where the log read so
// far continues follows a gap, and stays corruption.
func queryTornEnd(fs vfs.FS, walDir string, err error, due, from LSN) bool {
	if due == 0 {
		due = max(from, 1)
		if names, lerr := fs.List(walDir); lerr == nil {
			segs := 0
			for _, name := range names {
				if isSegmentName(name) {
					segs++
				}
			}
			if segs == 1 {
				due = 0 // any: nothing before it says where it is due
			}
		}
	}
	return tornLast(fs, walDir, err, due)
}

// QueryLog streams this bus's logged operations matching q (see QueryLogDir).
// Everything committed before the call is visible: the query writes the
// log's buffered records out to its files first, without an fsync. A
// q.FromLSN the log no longer holds, or a bus without a log
// (Options.DisableLog, and every bus Replay returns), is ErrLogTruncated,
// whatever q asks; a nil fn is ErrInvalidOption.
func (e *Bus) QueryLog(ctx context.Context, q LogQuery, fn func(*LoggedOp) bool) error {
	if err := checkCtx(ctx, "Bus.QueryLog"); err != nil {
		return err
	}
	if err := q.check(); err != nil {
		return err
	}
	if err := checkQueryFunc(fn); err != nil {
		return err
	}
	if err := e.pushLog(ctx, false); err != nil {
		return err
	}
	if e.opts.DisableLog {
		// No log holds any of its operations. Reading the directory's
		// (empty) wal/ instead answered nothing and nil, as if nothing
		// had been committed.
		return fmt.Errorf("%w: the bus keeps no log (Options.DisableLog), last LSN %d", ErrLogTruncated, e.LastLSN())
	}
	if q.FromLSN > e.LastLSN() {
		// Nothing committed holds it: answered without reading the log
		// (it read every segment looking for it).
		return nil
	}
	if q.FromLSN != 0 {
		var oldest LSN
		if e.log != nil {
			oldest = e.log.Stats().OldestLSN
		}
		if oldest == 0 || q.FromLSN < oldest {
			// No record holds q.FromLSN (QueryLogDir sees that from
			// the first record left, or from the oldest segment's name
			// when none is).
			first := oldest // the oldest LSN held, or past the last one when it holds none
			if first == 0 {
				first = e.LastLSN() + 1
			}
			return fmt.Errorf("%w: wanted LSN %d, the log holds none before LSN %d", ErrLogTruncated, q.FromLSN, first)
		}
	}
	if e.log != nil && q.FromLSN > 0 {
		if pos, ok := e.log.Locate(q.FromLSN); ok {
			return queryLog(ctx, e.fs, e.dir, q, &pos, fn)
		}
	}
	return queryLog(ctx, e.fs, e.dir, q, nil, fn) // q and fn checked above; the bus's dir exists
}
