package mmsb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// ReplayTarget says where a replay stops. The zero value replays everything.
//
// A replay stops only between batches (a Commit, a propagation wave, a
// CreatePages: one record of the log), as readers see them: a target
// inside a batch stops at that batch's end, and the replayed bus's
// LastLSN says where it stopped.
type ReplayTarget struct {
	// ToLSN: stop after this LSN (0: no limit), at the end of the batch
	// holding it. An LSN past the last one the log holds is
	// ErrInvalidOption, or ErrCorruption where a checkpoint newer than the
	// log's end shows committed operations missing.
	ToLSN  LSN
	ToTime int64 // stop before the first batch committed after this time (0: no limit)
	// Page/Epoch: stop once Page reaches Epoch, at the end of the batch
	// whose delta takes it there (its creation for epoch 0; Page 0: no
	// limit); a later delta of that batch may take the page further.
	// ErrInvalidOption if the log ends before that (without ToTime);
	// ErrLogTruncated if the page reached it before the oldest checkpoint
	// the replay can start from and later operations followed.
	Page  PageID
	Epoch Epoch
	// FromEmpty ignores checkpoints: replay the log from LSN 1 (fails with
	// ErrLogTruncated if segments before the first checkpoint were removed).
	FromEmpty bool
	// FromOldestCheckpoint starts from the oldest usable checkpoint instead
	// of the newest (replaying as much of the log as possible). With
	// FromEmpty set too, FromEmpty decides: VerifyReplay sets both, to
	// replay from LSN 1 where the log still holds it and from the oldest
	// checkpoint where it does not.
	FromOldestCheckpoint bool
}

func (t ReplayTarget) timeOrEpoch() bool { return t.ToTime != 0 || t.Page != 0 }

// discard closes a detached bus. It has no log and no lock, so nothing its
// Close could report (unmapping its arenas) would change what the caller
// does next.
func (e *Bus) discard() { _ = e.Close() }

// newDetached returns an engine with no log, no directory and no lock, for
// replays and offline checks.
func newDetached(funcs map[string]RecomputeFunc, lazy bool) *Bus {
	for _, fn := range funcs {
		if fn == nil {
			// Open refuses nil functions (the package-level Replay passes
			// the caller's map unchecked); a replay calls none, and bindings
			// naming a missing one are allowed, so they are left out.
			funcs = maps.Clone(funcs)
			maps.DeleteFunc(funcs, func(_ string, fn RecomputeFunc) bool { return fn == nil })
			break
		}
	}
	e, err := Open("", &Options{DisableLog: true, Functions: funcs, AllowMissingFunctions: true, HistoryEntries: -1, LazyPageMemory: lazy})
	if err != nil {
		panic(err) // an in-memory, log-less open cannot fail
	}
	return e
}

// Replay rebuilds the state of the bus stored in dir, up to target, into a
// new detached bus: in memory, with no log (Options.DisableLog), so it has
// no history of its own, and what is committed to it applies to it alone,
// durable nowhere (Close it when done). It reads while a live bus may be
// writing the directory. Of opts (which may be nil) only FS (default: the OS
// filesystem), Functions (for bindings' recompute functions),
// LazyPageMemory, Repair and DisableLog (below) are used; bindings naming
// unregistered functions are allowed, and listed in the returned bus's
// Recovery().MissingFunctions as Open lists them. Without LazyPageMemory the replay
// pre-faults its page memory and is bounded by the machine's memory
// (ErrNoSpace), as Open is: replay a directory written by a lazy bus with
// LazyPageMemory too. A dir that does not exist is ErrInvalidOption.
//
// A dir that holds a checkpoint but no wal/ is ErrCorruption naming wal/,
// as Open refuses it: its log was removed, and with it every operation
// after the newest checkpoint (the replay read the missing log as an empty
// one and answered with the newest checkpoint's state, which `mmsb replay
// --out` wrote as an intact directory). As with Open, opts.Repair accepts
// the loss, an empty wal/ made by hand does too, and opts.DisableLog
// replays a directory written by a bus without a log.
//
// A removed log that an Open with Repair or DisableLog accepted and then
// failed (checkpoints/log-mode.lost, whose loss the next Open that
// succeeds reports) is reported as that Open will report it: a replay
// that reads to the end of the log has Recovery().Log.LostFirstLSN the
// newest checkpoint's LSN + 1 and LostLastLSN LostLSNUnknown (until
// 2026-12-07 it said nothing of the loss). So is a log whose newest
// segments were removed, which opts.Repair accepts: the commits from the
// log's end on are reported lost.
//
// A checkpoint past the end of the log, which no damaged record explains
// (one of another bus copied in), is refused by Open's rule
// (ErrCorruption naming it; opts.Repair starts from it and reports what
// the log lacked lost, as Open with Repair does): until 2026-12-07 Replay
// presented its state as the bus's. So is a log that ends in a damaged
// record before the newest checkpoint's LSN: no crash tears a record a
// checkpoint proves durable (until 2026-12-07 it read as a torn tail).
//
// Replay changes no file and cuts nothing: opts.Repair accepts only the
// losses above (a removed log or newest segments, a log that ends before
// the checkpoint it starts from), not a damaged record inside the log,
// which stays ErrCorruption naming the file and offset; an Open with
// Repair (of a copy, to keep the original) cuts it. Of Recovery().Log a
// replay fills only LostFirstLSN and LostLastLSN; the rest (segments,
// torn tail, what Repair dropped) is what an Open does to the files, and
// stays zero. Checkpoints that trim the log while the replay reads it
// (a bus writing dir) make it start again from the newest, at most 8
// times; after that it is ErrLogTruncated: try again.
func Replay(ctx context.Context, dir string, target ReplayTarget, opts *Options) (*Bus, error) {
	if err := checkCtx(ctx, "Replay"); err != nil {
		return nil, err
	}
	fs := vfs.Default
	if opts != nil && opts.FS != nil {
		fs = opts.FS
	}
	if err := checkBusDir(fs, dir); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if opts == nil || !opts.Repair && !opts.DisableLog {
		if err := checkLogRemoved(fs, dir); err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
	}
	return replay(ctx, dir, target, opts, 0)
}

// checkBusDir refuses a bus directory that does not exist (or cannot be
// listed). Replay and QueryLogDir read a missing wal/ or checkpoints/ as
// no history, so a mistyped directory answered with an empty state (mmsb
// replay printed LSN 0) or no operations, and no error.
func checkBusDir(fs vfs.FS, dir string) error {
	if _, err := fs.List(dir); err != nil {
		return fmt.Errorf("%w: bus directory %q: %w", ErrInvalidOption, dir, err)
	}
	return nil
}

// replay is Replay, of page only when it is not 0 (see Bus.replayOnly).
func replay(ctx context.Context, dir string, target ReplayTarget, opts *Options, only PageID) (*Bus, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	ckDir := o.FS.Join(dir, "checkpoints")
	newest := newestCheckpointLSN(o.FS, ckDir)
	var said string // the last try's error
	for tries := 1; ; tries++ {
		out := newDetached(o.Functions, o.LazyPageMemory)
		out.replayOnly = only
		err := out.replayInto(ctx, o.FS, dir, target, o.Repair)
		if err == nil {
			// As Open fills it: the detached bus allows missing
			// functions, and said nothing of them (propagation then
			// failed with "not registered").
			out.checkMissingFunctions()
			return out, nil
		}
		out.discard()
		// A checkpoint of the bus writing dir trimmed the log while the
		// replay read it: a segment listed was gone when opened (the raw
		// "no such file" of the open was answered), or gone before the
		// log was listed (a gap). The replay starts again, from the
		// checkpoint that trimmed it (TestReplaySegmentRemovedWhileRead).
		// An error that stays (the same twice, and no new checkpoint) is
		// said as it is.
		now := newestCheckpointLSN(o.FS, ckDir)
		trimmed := now != newest && (vfs.IsNotExist(err) || errors.Is(err, ErrLogTruncated)) ||
			vfs.IsNotExist(err) && err.Error() != said
		if !trimmed || ctx.Err() != nil {
			return nil, err
		}
		if tries == maxReplayTries {
			return nil, fmt.Errorf("%w: the log was trimmed while the replay read it, %d times (checkpoints of the bus writing %s; try again): %w", ErrLogTruncated, tries, dir, err)
		}
		newest, said = now, err.Error()
	}
}

// maxReplayTries bounds how often replay starts again when checkpoints
// trim the log it reads (a bus writing the directory beside it).
const maxReplayTries = 8

// newestCheckpointLSN is the LSN of the newest checkpoint file in ckDir
// (0: none, or it cannot be listed).
func newestCheckpointLSN(fs vfs.FS, ckDir string) LSN {
	ckpts, err := checkpointFiles(fs, ckDir)
	if err != nil || len(ckpts) == 0 {
		return 0
	}
	return ckpts[0].LSN
}

func (e *Bus) replayInto(ctx context.Context, fs vfs.FS, dir string, target ReplayTarget, repair bool) error {
	walDir, ckDir := fs.Join(dir, "wal"), fs.Join(dir, "checkpoints")
	ckpts, err := checkpoint.List(fs, ckDir)
	if err != nil && !vfs.IsNotExist(err) {
		return err
	}
	// As recovery does: a name that holds no checkpoint file is none
	// (TestRecoverPassesOverNonFileCheckpointName).
	ckpts = e.passOverNonFiles(ckpts)
	firstLSN, err := firstLogLSN(fs, walDir)
	if err != nil {
		return err
	}
	// Choose the starting point: empty if the log still begins at LSN 1 and
	// that is wanted or needed, else the newest usable checkpoint.
	fromEmpty := firstLSN == 1 && (target.FromEmpty || target.timeOrEpoch())
	if target.FromEmpty && !fromEmpty {
		switch {
		case firstLSN == 0 && len(ckpts) == 0:
			fromEmpty = true // no history at all: the empty state is the whole of it
		case firstLSN == 0:
			return fmt.Errorf("%w: the log holds no record (a checkpoint covered and removed its segments)", ErrLogTruncated)
		default:
			return fmt.Errorf("%w: log starts at LSN %d, not 1", ErrLogTruncated, firstLSN)
		}
	}
	if !fromEmpty {
		loaded := false
		var cands []checkpoint.Info
		for _, c := range ckpts {
			if target.ToLSN == 0 || c.LSN <= target.ToLSN {
				cands = append(cands, c)
			}
		}
		if target.timeOrEpoch() || target.FromOldestCheckpoint {
			// Oldest first: time and epoch targets may lie before a newer
			// checkpoint. A checkpoint that does not load falls back to the
			// next newer one (the oldest usable), as the newest falls back
			// to older ones.
			slices.Reverse(cands)
		}
		var loadErr error // why the candidates passed over did not load
		for _, c := range cands {
			err := e.loadCheckpointFrom(fs, c.Path)
			if err == nil {
				err = e.checkContinuesLog(fs, walDir, c.Path)
			}
			if err != nil {
				e.resetState()
				loadErr = errors.Join(loadErr, err) // it names the file (loadCheckpointFrom)
				e.recovery.SkippedCheckpoint = append(e.recovery.SkippedCheckpoint, err.Error())
				continue
			}
			// Past the log's end, as Open refuses it (a checkpoint of
			// another bus copied in was presented as this bus's state:
			// TestReplayRefusesCheckpointPastLogEnd).
			if err := e.checkLogReaches(fs, walDir, c.Path, repair); err != nil {
				return err
			}
			// Where the replay started, for Recovery: a checkpoint passed
			// over is otherwise invisible to a caller comparing two
			// replays, which would compare one with itself.
			e.recovery.Checkpoint, e.recovery.CheckpointLSN = c.Path, e.lastLSN
			loaded = true
			break
		}
		// Without a checkpoint the replay starts from empty, which is right
		// only when the log holds LSN 1, or when there is no history at all
		// (an empty log and no checkpoint that failed to load). An empty log
		// beside checkpoints that do not load is lost history, not an empty
		// bus.
		if !loaded && firstLSN != 1 && loadErr != nil {
			// An empty log was said "starts at LSN 0 (0: empty)"
			// (TestReplayOfEmptyLogSaysNoRecord).
			logSaid := fmt.Sprintf("the log starts at LSN %d", firstLSN)
			if firstLSN == 0 {
				logSaid = "the log holds no record"
			}
			return fmt.Errorf("%w: no checkpoint at or before the target loads and %s: %w", ErrLogTruncated, logSaid, loadErr)
		}
		// A log holding no record beside checkpoints all past the target
		// (an Open at a checkpoint leaves its newest segment empty) is
		// history trimmed too: replayed from empty, it reached the end at
		// LSN 0 and called the healthy bus corrupt ("the log ends at LSN
		// 0, before checkpoint ...") where ReadPageAt's doc says
		// ErrLogTruncated (TestReplayBeforeCheckpointWithEmptyLog).
		if !loaded && (firstLSN > 1 || firstLSN == 0 && len(ckpts) > 0) {
			logSaid := fmt.Sprintf("the log starts at LSN %d", firstLSN)
			if firstLSN == 0 {
				logSaid = "the log holds no record"
			}
			return fmt.Errorf("%w: no usable checkpoint at or before the target and %s", ErrLogTruncated, logSaid)
		}
		if target.ToTime != 0 && e.lastTime > target.ToTime || target.Page != 0 && e.pageEpoch(target.Page) > target.Epoch {
			return fmt.Errorf("%w: the oldest checkpoint is already past the target", ErrLogTruncated)
		}
		if target.Page != 0 && e.pageReached(target.Page, target.Epoch) {
			// The page reached the epoch at its last write: the checkpoint's
			// state is the target only if nothing followed that write. Later
			// operations cannot be undone, and the log before them is gone.
			if last := e.pageLastLSN(target.Page); last != e.lastLSN {
				return fmt.Errorf("%w: page %d reached epoch %d at LSN %d, before the oldest checkpoint (LSN %d) the replay can start from",
					ErrLogTruncated, target.Page, target.Epoch, last, e.lastLSN)
			}
			return nil
		}
	}
	if target.ToLSN != 0 && e.lastLSN >= target.ToLSN {
		return nil
	}
	// atEnd checks a replay that reached the end of the log. A checkpoint
	// is committed only once the log durably holds its LSN, so a log that
	// ends before one (a newer checkpoint that did not load, and a damaged
	// log) has lost committed operations: the state is not the bus's.
	atEnd := func() error {
		if !target.timeOrEpoch() && len(ckpts) > 0 && ckpts[0].LSN > e.lastLSN {
			return fmt.Errorf("%w: the log ends at LSN %d, before checkpoint %s (LSN %d): committed operations are missing",
				ErrCorruption, e.lastLSN, ckpts[0].Path, ckpts[0].LSN)
		}
		if target.ToLSN != 0 && e.lastLSN < target.ToLSN {
			// Nothing says the directory ever held the target: it is
			// past its history, as Bus.Replay says of an LSN past
			// LastLSN.
			return fmt.Errorf("%w: replay to LSN %d, past the last LSN %d the directory holds", ErrInvalidOption, target.ToLSN, e.lastLSN)
		}
		if target.Page != 0 && target.ToTime == 0 {
			// A replay that reaches the page's epoch stops before the end
			// of the log: the full state is not the one asked for. (With
			// ToTime, every operation is at or before it: the time stop
			// comes first and is the whole log.)
			// As of a target LSN past the end: nothing says the history
			// held that epoch (ErrLogTruncated said it was lost).
			return fmt.Errorf("%w: page %d never reached epoch %d: the log ends at LSN %d", ErrInvalidOption, target.Page, target.Epoch, e.lastLSN)
		}
		// A loss an Open accepted and failed before reporting: the
		// state is the end of what the directory holds, not of what
		// was committed (see Replay).
		if first := pendingLoss(fs, dir); first != 0 && e.lastLSN < first {
			e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = first, LostLSNUnknown
		}
		e.reportRepairLost(fs, walDir)
		// Newest segments removed (Repair or DisableLog passed
		// checkLogRemoved): the commits from the log's end on are
		// lost, as Open with Repair reports them
		// (TestReplayRepairReportsRemovedNewestSegment). The file is
		// read before the segments are listed: a writer rotating
		// beside the replay is no loss.
		if missing, err := tlog.NewestMissing(fs, walDir); (missing != "" || errors.Is(err, tlog.ErrBadNewest)) && e.recovery.Log.LostFirstLSN == 0 {
			e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = e.lastLSN+1, LostLSNUnknown
		}
		return nil
	}
	return e.replayLog(ctx, fs, walDir, nil, target, atEnd, nil)
}

// replayLog applies the log in walDir from e.lastLSN+1 up to target (its
// ToLSN, ToTime and Page/Epoch stops) and calls atEnd when the log ends
// first. A non-nil at starts the read there (a record boundary at or
// before e.lastLSN+1, from tlog.Log.Locate) instead of at the beginning of
// the segment. replayInto calls it after choosing where to start; VerifyReplay
// calls it again to catch a replay up with commits made while it ran. A
// non-nil seen is called with the operations applied, once they are.
func (e *Bus) replayLog(ctx context.Context, fs vfs.FS, walDir string, at *tlog.Position, target ReplayTarget, atEnd func() error, seen func([]record.Op)) error {
	var r *tlog.Reader
	var err error
	if at != nil {
		r, err = tlog.NewReaderAt(fs, walDir, *at, e.lastLSN+1)
	} else {
		r, err = tlog.NewReader(fs, walDir, e.lastLSN+1)
	}
	if err != nil {
		// A last segment holding only a torn header ends the log, as
		// recovery reads it: Open made a bus of a first Open that
		// crashed writing its segment's header, and Replay (so inspect,
		// graph, replay and check's replays) refused it as corruption
		// (TestFirstOpenCrashStatesAcceptedByEveryCommand).
		if vfs.IsNotExist(err) || tornLast(fs, walDir, err, e.lastLSN+1) {
			return atEnd()
		}
		return err
	}
	defer r.Close()
	var dec record.Decoder
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		// e.lastLSN is the last LSN applied: every record before a stop
		// is, so the log read so far continues after it.
		if errors.Is(err, io.EOF) || err != nil && tornLast(fs, walDir, err, e.lastLSN+1) {
			return atEnd()
		}
		if err != nil {
			return err
		}
		ops, err := e.decodeRecord(rec, &dec)
		if err != nil {
			return err
		}
		if target.ToTime != 0 && dec.Time > target.ToTime {
			return nil
		}
		skip := 0
		if rec.FirstLSN <= e.lastLSN {
			skip = int(min(uint64(e.lastLSN-rec.FirstLSN+1), uint64(len(ops))))
		}
		ops = ops[skip:]
		first := rec.FirstLSN + LSN(skip)
		if len(ops) == 0 {
			continue
		}
		if first != e.lastLSN+1 {
			return fmt.Errorf("%w: log jumps from LSN %d to %d", ErrLogTruncated, e.lastLSN, first)
		}
		// A record is one batch (a Commit, a propagation wave): a stop
		// inside it stops at its end, as ToTime does, never half-way.
		// The state of half a batch is one no reader ever saw, and
		// `mmsb replay` wrote it out as an intact bus
		// (TestReplayTargetInsideBatchStopsAtItsEnd).
		last := first + LSN(len(ops)) - 1
		stop := target.ToLSN != 0 && last >= target.ToLSN
		if e.replayOnly == 0 && target.Page == 0 {
			if i, err := e.applyOps(ops, first, dec.Time); err != nil {
				return replayApplyErr(rec.File, rec.Offset, err, first+LSN(i))
			}
			if seen != nil {
				seen(ops)
			}
			if stop {
				return nil
			}
			continue
		}
		for i := range ops {
			lsn, op := first+LSN(i), &ops[i]
			if e.replayOnly != 0 && !opOnPage(op, e.replayOnly) {
				e.lastLSN, e.lastTime = lsn, dec.Time
			} else if err := e.applyOp(op, lsn, dec.Time); err != nil {
				return replayApplyErr(rec.File, rec.Offset, err, lsn)
			} else if seen != nil {
				seen(ops[i : i+1])
			}
			if !stop && target.Page != 0 && opWrites(op, target.Page) && e.pageReached(target.Page, target.Epoch) {
				stop = true
			}
		}
		if stop {
			return nil
		}
	}
}

// pageReached reports whether page id exists at epoch ep or later (a page
// is at epoch 0 from its creation).
func (e *Bus) pageReached(id PageID, ep Epoch) bool {
	sl, ok := e.store.Lookup(id)
	return ok && e.store.Epoch(sl) >= ep
}

// pageLastLSN returns the LSN of page id's creation or last delta (0 if it
// does not exist).
func (e *Bus) pageLastLSN(id PageID) LSN {
	if sl, ok := e.store.Lookup(id); ok {
		return e.store.LastLSN(sl)
	}
	return 0
}

// opOnPage reports whether op changes page id itself (its existence,
// bytes, epoch, metadata or flags): the operations a page-only replay
// applies. Edges and bindings change no page's bytes, and derived bytes
// are logged, so a page's bytes and epoch as of an LSN follow from these
// alone.
func opOnPage(op *record.Op, id PageID) bool {
	switch op.Kind {
	case record.OpDelta, record.OpDerived:
		return op.Delta.Page == id
	case record.OpCreatePage, record.OpFreePage, record.OpSetMeta, record.OpSetFlags:
		return op.Page == id
	}
	return false
}

// opWrites reports whether op creates page id or writes its bytes: the
// operations that set a page's epoch.
func opWrites(op *record.Op, id PageID) bool {
	switch op.Kind {
	case record.OpDelta, record.OpDerived:
		return op.Delta.Page == id
	case record.OpCreatePage:
		return op.Page == id
	}
	return false
}

func (e *Bus) pageEpoch(id PageID) Epoch {
	if sl, ok := e.store.Lookup(id); ok {
		return e.store.Epoch(sl)
	}
	return 0
}

// checkContinuesLog refuses the checkpoint just loaded from path when the
// log in walDir still holds the record of its LSN and that record's commit
// time is not the checkpoint's last commit time. A bus stamps its state
// with the time of the record it applied last, so a checkpoint of this
// bus's history at LSN L carries the time of the log's record holding L;
// one copied in from another bus (whose LSNs overlap this one's) does not,
// and recovery and replay applied this log's operations after L on top of
// the other bus's state: a mixture no bus had, without a word. The format
// holds no bus identity, and this is the one check the files allow; a log
// that no longer holds L (trimmed, restarted, or an empty wal/ written
// with the checkpoint) leaves nothing to compare, and a log that cannot be
// read there is for the replay that follows to report.
func (e *Bus) checkContinuesLog(fs vfs.FS, walDir, path string) error {
	at, stamp := e.lastLSN, e.lastTime
	if at == 0 {
		return nil
	}
	r, err := tlog.NewReader(fs, walDir, at)
	if err != nil {
		return nil
	}
	defer r.Close()
	rec, err := r.Next()
	if err != nil || rec.FirstLSN > at || rec.LastLSN() < at {
		return nil
	}
	var dec record.Decoder
	if dec.Reset(rec.Payload) != nil {
		return nil
	}
	if dec.Time != stamp {
		return fmt.Errorf("%w: checkpoint %s (LSN %d) is not of this log's history: its last commit is stamped %d ns, the log's record holding LSN %d (%s offset %d) %d ns "+
			"(a checkpoint copied in from another bus? its state and this log's operations after LSN %d would mix two histories)",
			ErrCorruption, path, at, stamp, at, rec.File, rec.Offset, dec.Time, at)
	}
	return nil
}

// logEndsBeforeCheckpoint is the rule by which Open and Replay refuse
// the checkpoint they start from (path, at LSN at): the log ends at LSN
// last (0: it holds nothing to compare), before it; cut says a damaged
// record that Open would cut as a torn tail ends it there (only the
// wording differs). A checkpoint is taken only once the log durably
// holds its LSN, so it is not this log's: a segment is missing, the log
// was damaged, or the checkpoint was copied in from another bus.
// Repair accepts it (Open restarts the log there). One rule: Replay
// presented such a checkpoint as the bus's state while Open refused the
// directory (TestReplayRefusesCheckpointPastLogEnd).
func logEndsBeforeCheckpoint(walDir string, last LSN, cut bool, path string, at LSN, repair bool) error {
	if last == 0 || last >= at || repair {
		return nil
	}
	if cut {
		// A torn tail or header that ends the log before the checkpoint
		// cut what the checkpoint proves durable: damage, not a crash.
		// It let a log cut in half open at the checkpoint, the commits
		// after it gone without a word
		// (TestOpenRefusesTornTailBeforeCheckpoint).
		return fmt.Errorf("%w: the log in %s ends at LSN %d, before checkpoint %s (LSN %d), at a damaged record read as a torn tail: a checkpoint is taken only once the log durably holds its LSN, so the log was damaged and the commits after LSN %d are lost (Options.Repair opens at the checkpoint and reports them lost)",
			ErrCorruption, walDir, last, path, at, at)
	}
	return fmt.Errorf("%w: the log in %s ends at LSN %d, before checkpoint %s (LSN %d), and no damaged record was cut: a log segment is missing or the checkpoint belongs to another bus (Options.Repair opens at the checkpoint and deletes the log and the older checkpoints)",
		ErrCorruption, walDir, last, path, at)
}

// checkLogReaches is logEndsBeforeCheckpoint for Replay, on the
// checkpoint just loaded from path: the log read from its LSN ends
// before it. Repair accepts it and reports what the log lacked past the
// checkpoint lost, as Open with Repair does. A log that cannot be read
// there is for the replay that follows to report.
func (e *Bus) checkLogReaches(fs vfs.FS, walDir, path string, repair bool) error {
	at := e.lastLSN
	err := logReachesCheckpoint(fs, walDir, path, at)
	if err != nil && repair {
		e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = at+1, LostLSNUnknown
		return nil
	}
	return err
}

// logReachesCheckpoint applies logEndsBeforeCheckpoint to the log in
// walDir read from the LSN at of checkpoint path (0: none): only a read
// that reaches the log's end before at says anything; a log that cannot
// be read there is for the read that follows to report.
func logReachesCheckpoint(fs vfs.FS, walDir, path string, at LSN) error {
	if at == 0 {
		return nil
	}
	r, err := tlog.NewReader(fs, walDir, at)
	if err != nil {
		return nil
	}
	defer r.Close()
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		return nil
	}
	last, cut := r.End()
	return logEndsBeforeCheckpoint(walDir, last, cut, path, at, false)
}

// firstLogLSN returns the first LSN held by the log in walDir (0 if empty).
func firstLogLSN(fs vfs.FS, walDir string) (LSN, error) {
	r, err := tlog.NewReader(fs, walDir, 0)
	if err != nil {
		// A last segment holding only a torn header (a crash while an
		// Open made it) holds no record, as recovery reads it (tornLast).
		if vfs.IsNotExist(err) || tornLast(fs, walDir, err, 0) {
			return 0, nil
		}
		return 0, err
	}
	defer r.Close()
	rec, err := r.Next()
	if errors.Is(err, io.EOF) || err != nil && tornLast(fs, walDir, err, 0) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return rec.FirstLSN, nil
}

// Replay rebuilds this bus's state up to target into a new detached bus
// (see the package-level Replay), with this bus's LazyPageMemory (so do
// VerifyReplay and ReadPageAt). A target.ToLSN past the last committed
// LSN is ErrInvalidOption: that state does not exist yet. A bus without a
// log (Options.DisableLog, and every bus Replay returns) rebuilds only the
// states its checkpoints hold, each at its LSN: a target at another LSN
// (ToLSN 0: its last), by time or page epoch, or FromEmpty is
// ErrLogTruncated, and a checkpoint at the target's LSN that does not
// load is ErrCorruption naming it.
func (e *Bus) Replay(ctx context.Context, target ReplayTarget) (*Bus, error) {
	if err := checkCtx(ctx, "Bus.Replay"); err != nil {
		return nil, err
	}
	return e.replayPage(ctx, target, 0)
}

// replayPage is Replay, of page only when it is not 0 (see replayOnly).
func (e *Bus) replayPage(ctx context.Context, target ReplayTarget, only PageID) (*Bus, error) {
	last := e.LastLSN() // before Flush, which then makes the log hold it
	if err := e.Flush(ctx); err != nil {
		return nil, err
	}
	if target.ToLSN > last {
		return nil, fmt.Errorf("%w: replay to LSN %d, past the last committed LSN %d", ErrInvalidOption, target.ToLSN, last)
	}
	if e.opts.DisableLog {
		return e.replayNoLog(ctx, target, only, last)
	}
	return replay(ctx, e.dir, target, &Options{FS: e.fs, Functions: e.opts.Functions, LazyPageMemory: e.opts.LazyPageMemory}, only)
}

// replayNoLog is replayPage on a bus without a log (Options.DisableLog):
// only the states its checkpoints hold can be rebuilt, each at its LSN,
// by loading the checkpoint at the target's LSN. A target that asks for
// another state is ErrLogTruncated; a checkpoint at the target's LSN that
// does not load is ErrCorruption naming it (it was reported as no
// checkpoint holding the LSN, and the older one loaded instead named as
// the newest). Before, the replay of its directory answered a target of
// the last LSN (ToLSN 0) with its newest checkpoint's state, or with no
// page at all when it had none, as if that were the bus's state.
func (e *Bus) replayNoLog(ctx context.Context, target ReplayTarget, only PageID, last LSN) (*Bus, error) {
	if target.ToTime != 0 || target.Page != 0 || target.FromEmpty {
		return nil, fmt.Errorf("%w: the bus keeps no log (Options.DisableLog): a replay by time, by page epoch or from empty needs one", ErrLogTruncated)
	}
	want := target.ToLSN
	if want == 0 {
		want = last
	}
	if want == 0 {
		// Nothing committed: the empty state is the one asked for.
		return replay(ctx, e.dir, target, &Options{FS: e.fs, Functions: e.opts.Functions, LazyPageMemory: e.opts.LazyPageMemory, DisableLog: true}, only)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ckpts, err := checkpointFiles(e.fs, e.ckptDir())
	if err != nil && !vfs.IsNotExist(err) {
		return nil, fmt.Errorf("mmsb: replay: %w", err)
	}
	var path string
	held := make([]LSN, 0, len(ckpts))
	for _, c := range ckpts {
		if notCheckpointFile(c.Err) {
			// A name that holds no file (a dangling link): no state, as
			// a directory under such a name, which the listing passes
			// over. Before, it was "the checkpoint that holds that
			// state and does not load", an error neither
			// ErrLogTruncated nor ErrCorruption
			// (TestReplayWithoutLogNameHoldingNoFile).
			continue
		}
		held = append(held, c.LSN)
		if c.LSN == want {
			path = c.Path
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%w: the bus keeps no log (Options.DisableLog) and no checkpoint of it holds LSN %d (its checkpoints hold LSNs %v)", ErrLogTruncated, want, held)
	}
	out := newDetached(e.opts.Functions, e.opts.LazyPageMemory)
	out.replayOnly = only
	err = out.loadCheckpointFrom(e.fs, path)
	if err == nil && out.lastLSN != want {
		err = fmt.Errorf("%w: checkpoint %s is named for LSN %d but holds the state at LSN %d", ErrCorruption, path, want, out.lastLSN)
	}
	if err != nil {
		out.discard()
		if vfs.IsNotExist(err) {
			// Removed since the listing (a newer checkpoint pruned it).
			return nil, fmt.Errorf("%w: the bus keeps no log (Options.DisableLog) and its checkpoint at LSN %d was removed: %w", ErrLogTruncated, want, err)
		}
		return nil, fmt.Errorf("mmsb: replay of a bus without a log (Options.DisableLog) to LSN %d: its checkpoint %s holds that state and does not load: %w", want, path, err)
	}
	out.recovery.Checkpoint, out.recovery.CheckpointLSN = path, want
	out.checkMissingFunctions()
	return out, nil
}

// ReadPageAt returns page id's bytes and epoch as of LSN lsn (replaying
// from the newest checkpoint at or before lsn). An lsn inside a batch (a
// Commit of several deltas, a propagation wave, a CreatePages) reads the
// state at that batch's end, as ReplayTarget.ToLSN stops: no reader ever
// saw half a batch, and a later delta of the batch may have written the
// page again (TestReadPageAtInsideBatchReadsItsEnd). The replay is of that page
// alone: it reads the checkpoint and the log up to lsn but keeps only the
// page's image and operations, so it costs the page's memory, not the
// bus's (TestPropertyReadPageAtEqualsFullReplay compares it with a replay
// of the whole bus). lsn 0 is ErrInvalidOption:
// it precedes every operation, and a replay target of 0 means "no limit",
// so it used to answer with the current page instead (ReadPage reads that);
// so is an LSN past LastLSN. ErrLogTruncated when the log and checkpoints
// no longer reach back to lsn, and on a bus without a log at an LSN no
// checkpoint of it holds (see Bus.Replay).
func (e *Bus) ReadPageAt(ctx context.Context, id PageID, lsn LSN) ([]byte, Epoch, error) {
	if err := checkCtx(ctx, "Bus.ReadPageAt"); err != nil {
		return nil, 0, err
	}
	if lsn == 0 {
		return nil, 0, fmt.Errorf("%w: ReadPageAt needs an LSN >= 1 (ReadPage reads the current page)", ErrInvalidOption)
	}
	r, err := e.replayPage(ctx, ReplayTarget{ToLSN: lsn}, id)
	if err != nil {
		return nil, 0, err
	}
	defer r.discard()
	return r.ReadPage(id, nil)
}

// ReplayReport compares a replay of the log with the live state.
//
// VerifyReplay compares the pages in ranges of IDs while commits go on,
// each range with the replay and the live bus at one LSN (the LSN of that
// step). Then it compares again, in ID order and in steps of the same
// size, every page that an operation replayed during those steps created,
// freed or gave new metadata or flags while its ID was below the range
// being compared (or after the last range): those that exist on either
// side then. A page whose bytes alone changed after its range was compared
// is not compared again (the log carries those bytes). LiveHash and
// ReplayHash hash every page compared as StateHash does, in the order
// compared, each page as it was when compared: with no commit during the
// verification they are the two states' StateHash at LSN.
type ReplayReport struct {
	LSN            LSN    // the state compared last: every operation up to this LSN (the graphs are compared at it)
	FromCheckpoint string // the checkpoint the replay started from; "" when replayed from LSN 1
	CheckpointLSN  LSN    // the LSN FromCheckpoint covers (0 when replayed from LSN 1)
	LiveHash       uint64
	ReplayHash     uint64
	Pages          int      // pages compared on both sides (a page compared in its range and again counts twice)
	PagesDiffering int      // pages whose bytes, size, epoch, metadata, flags, location or last-write LSN differ, or that exist on one side only
	BytesDiffering int64    // differing bytes over pages present on both sides
	L2Divergence   float64  // sqrt(sum of squared differences) over float64 pages ("mmsb.type"="f64")
	GraphEqual     bool     // same edges and bindings
	Differences    []string // first few differences, for people
}

// Equal reports whether the replay matched the live state exactly.
func (r *ReplayReport) Equal() bool {
	return r.PagesDiffering == 0 && r.BytesDiffering == 0 && r.LiveHash == r.ReplayHash && r.GraphEqual
}

// VerifyReplay replays the log (from LSN 1 when the log still holds it,
// else from the oldest checkpoint; or from the newest checkpoint when
// fromNewestCheckpoint) and compares every page with the live state, bit for
// bit.
//
// Commits go on while it runs. It replays up to the LSN reached when it
// starts, without the bus's lock, and catches up with the commits made
// meanwhile. Then it compares in steps, each under the read lock with the
// replay caught up to the live LSN: a step catches up at most 16,384
// operations or compares at most 4,096 pages or 1 MiB of them, and
// commits waiting for the lock get in between steps, so a commit waits for
// one step, not for the verification. After the ranges it compares, in
// steps of the same size, the pages that the commits replayed during the
// steps created, freed, or gave new metadata or flags below the range
// being compared, so that a page created meanwhile with a low ID
// (PageSpec.ID, or a page freed and created again) is compared too (see
// ReplayReport for what this means for its hashes and Pages). Commits that
// outrun the steps cannot keep it from finishing: after a budget of steps
// (twice what the bus's size needs, plus 64) the last step catches up and
// compares the rest in one hold of the read lock. Checkpoints wait for
// it, so that none removes log or checkpoints the replay reads.
//
// A replay from the newest checkpoint starts from that checkpoint or fails:
// when it does not load the error wraps ErrNoCheckpoint and the reason
// (usually ErrCorruption), instead of the replay quietly starting from an
// older checkpoint or LSN 1, which would leave the recovery path unchecked.
// With no checkpoint at all it replays from LSN 1, as recovery would; the
// report's FromCheckpoint and CheckpointLSN always say where it started.
//
// A bus without a log (Options.DisableLog, and every bus Replay returns)
// is ErrInvalidOption: there is nothing to verify, as opposed to a
// history asked for and no longer held, which is what ErrLogTruncated
// says (Replay, ReadPageAt and QueryLog of such a bus, which are asked
// for a state or a range of operations). Callers count ErrLogTruncated
// from VerifyReplay as a failed verification (internal/validate does);
// Stats().NoLog tells such a bus beforehand.
func (e *Bus) VerifyReplay(ctx context.Context, fromNewestCheckpoint bool) (ReplayReport, error) {
	if err := checkCtx(ctx, "Bus.VerifyReplay"); err != nil {
		return ReplayReport{}, err
	}
	// The checkpoints and the log must not change under the replay (a
	// checkpoint finishing, pruning, trimming the log), and the newest
	// checkpoint not between choosing it and loading it. Same lock order
	// as Checkpoint: ckptMu, then mu.
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	e.rlockSettled()
	err, hasLog, start := e.usable(), e.log != nil, e.lastLSN
	e.mu.RUnlock()
	if err != nil {
		return ReplayReport{}, err
	}
	if !hasLog {
		return ReplayReport{}, fmt.Errorf("%w: VerifyReplay needs the bus's log, and this bus keeps none (Options.DisableLog, or a bus Replay returned): there is no history to replay", ErrInvalidOption)
	}
	// Written out, not fsynced: the replay reads through the OS, and an
	// fsync of a log under SyncNone (up to a segment of dirty pages) keeps
	// every commit's write waiting for it.
	if err := e.log.WriteThrough(ctx, start); err != nil {
		return ReplayReport{}, err
	}
	target := ReplayTarget{ToLSN: start}
	first, err := firstLogLSN(e.fs, e.walDir())
	if err != nil {
		return ReplayReport{}, err
	}
	// A name that holds no checkpoint file is none: replayInto passes
	// over it (TestVerifyReplayPassesOverNonFileCheckpointName).
	ckpts, err := checkpointFiles(e.fs, e.ckptDir())
	if err != nil && !vfs.IsNotExist(err) {
		return ReplayReport{}, fmt.Errorf("mmsb: verify replay: %w", err)
	}
	var newest checkpoint.Info // the newest checkpoint the replay may start from
	for _, c := range ckpts {
		if c.LSN <= start {
			newest = c
			break
		}
	}
	if !fromNewestCheckpoint {
		target.FromEmpty = first == 1
		target.FromOldestCheckpoint = true
	}
	r := newDetached(e.opts.Functions, e.opts.LazyPageMemory)
	defer r.discard()
	if start > 0 || fromNewestCheckpoint && newest.Path != "" {
		if err := r.replayInto(ctx, e.fs, e.dir, target, false); err != nil {
			return ReplayReport{}, err
		}
	}
	if fromNewestCheckpoint && newest.Path != "" && r.recovery.Checkpoint != newest.Path {
		// replayInto passes over a checkpoint that does not load; load it
		// again to name the reason.
		probe := newDetached(e.opts.Functions, e.opts.LazyPageMemory)
		why := probe.loadCheckpointFrom(e.fs, newest.Path)
		probe.discard()
		if why == nil {
			why = fmt.Errorf("the replay started from %q instead", r.recovery.Checkpoint)
		}
		return ReplayReport{}, fmt.Errorf("%w: newest checkpoint %s (LSN %d): %w", ErrNoCheckpoint, newest.Path, newest.LSN, why)
	}
	if h := e.verifyReplayed; h != nil {
		h()
	}
	// Catch up without the lock while the commits made meanwhile are many
	// (a few rounds only: commits may outrun a replay).
	for range verifyCatchUpRounds {
		to := e.LastLSN()
		if to-r.lastLSN < verifyStepOps {
			break
		}
		if err := e.log.WriteThrough(ctx, to); err != nil {
			return ReplayReport{}, err
		}
		if err := r.catchUp(ctx, e, to, nil); err != nil {
			return ReplayReport{}, err
		}
	}
	c := newReplayComparer()
	var next PageID // the pages below it are compared
	budget := e.verifyStepBudget()
	for steps := 1; ; steps++ {
		done, err := e.verifyStep(ctx, r, c, &next, steps >= budget)
		if err != nil {
			return ReplayReport{}, err
		}
		if done {
			break
		}
		if h := e.verifyStepped; h != nil {
			h(next)
		}
	}
	rep := c.out
	rep.FromCheckpoint = r.recovery.Checkpoint
	for _, ck := range ckpts {
		if ck.Path == r.recovery.Checkpoint {
			rep.CheckpointLSN = ck.LSN
		}
	}
	return rep, nil
}

// VerifyReplay catches its replay up without the bus's lock for at most
// verifyCatchUpRounds rounds, while verifyStepOps operations or more are
// left. Then each step under the read lock catches up at most
// verifyStepOps operations, or compares at most verifyStepPages pages or
// verifyStepBytes bytes of them (at least one page): one step is what a
// commit may wait for.
//
// Commits that outrun the steps (more operations between two steps than
// one catches up, more pages created than one compares) would keep the
// verification from ever finishing: after verifyStepBudget steps, the
// next one catches up and compares all that is left in one hold of the
// read lock, as VerifyReplay did before it took steps.
const (
	verifyCatchUpRounds = 4
	verifyStepOps       = 1 << 14
	verifyStepPages     = 4096
	verifyStepBytes     = 1 << 20
)

// verifyStepBudget is how many steps VerifyReplay takes before its last,
// unbounded one: twice what the bus's pages need at its current size,
// plus slack for catching up (a bus that grows during the verification
// needs more steps, and gets them up to this bound).
func (e *Bus) verifyStepBudget() int {
	e.mu.RLock()
	st := e.store.Stats()
	e.mu.RUnlock()
	need := st.Pages/verifyStepPages + int(st.LogicalBytes/verifyStepBytes) + 1
	return 2*need + 64
}

// verifyStep holds the read lock once. It catches r up with the live bus
// by at most verifyStepOps operations, noting the pages below *next whose
// existence, size, metadata or flags the operations it applies change
// (c.again); once r is at the live LSN it compares the next range of
// pages, from *next on, or, after the last range, the next piece of the
// pages noted; after the last piece it compares the graphs (c.out is then
// the report). It reports whether the comparison is complete. The last
// step (last) catches up, compares every range and every page noted, and
// completes.
func (e *Bus) verifyStep(ctx context.Context, r *Bus, c *replayComparer, next *PageID, last bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	e.rlockSettled()
	defer e.mu.RUnlock()
	if err := e.usable(); err != nil {
		return false, err
	}
	if r.lastLSN < e.lastLSN {
		to := e.lastLSN
		if !last {
			to = min(to, r.lastLSN+verifyStepOps)
		}
		if err := e.log.WriteThrough(ctx, to); err != nil {
			return false, err
		}
		seen := func(ops []record.Op) { c.noteChanged(ops, *next) }
		if err := r.catchUp(ctx, e, to, seen); err != nil {
			return false, err
		}
		if r.lastLSN < e.lastLSN {
			return false, nil // let the commits waiting for the lock in
		}
	}
	// The ranges first, then the pages changed below them, in steps of
	// their own: a step compares at most one range's worth.
	if !c.rangesDone {
		for !c.compareRange(e, r, next) {
			if !last {
				return false, nil
			}
		}
		c.rangesDone = true
		if len(c.again) > 0 && !last {
			return false, nil
		}
	}
	for !c.compareAgain(e, r) {
		if !last {
			return false, nil
		}
	}
	c.out = c.finish(e, r)
	c.out.LSN = e.lastLSN
	return true, nil
}

// compareRange compares the next range of pages, from *next on, and moves
// *next past it. It reports whether that was the last range.
func (c *replayComparer) compareRange(e, r *Bus, next *PageID) bool {
	liveIDs, liveCut := stepRange(e.store, e.store.AppendIDsFrom(c.liveIDs[:0], *next, verifyStepPages))
	repIDs, repCut := stepRange(r.store, r.store.AppendIDsFrom(c.repIDs[:0], *next, verifyStepPages))
	// Pages up to bound are all in both lists: a list that was cut holds
	// every page up to its last ID.
	bound := ^PageID(0)
	if liveCut {
		bound = liveIDs[len(liveIDs)-1]
	}
	if repCut {
		bound = min(bound, repIDs[len(repIDs)-1])
	}
	liveIDs, repIDs = idsUpTo(liveIDs, bound), idsUpTo(repIDs, bound)
	c.pages(e, r, liveIDs, repIDs)
	c.liveIDs, c.repIDs = liveIDs[:0], repIDs[:0]
	if (liveCut || repCut) && bound != ^PageID(0) {
		*next = bound + 1
		return false
	}
	return true
}

// noteChanged notes, of ops that the replay applied while catching up,
// the pages below next (all of them once the ranges are compared) that
// they created, freed or gave new metadata or flags: their range may have
// been compared before, so compareAgain compares them again. Writes are
// left out: they change bytes, which the log carries and the replay
// applies as the live bus did, and noting them would compare again every
// page written during the verification.
func (c *replayComparer) noteChanged(ops []record.Op, next PageID) {
	for k := range ops {
		switch op := &ops[k]; op.Kind {
		case record.OpCreatePage, record.OpFreePage, record.OpSetMeta, record.OpSetFlags:
			if c.rangesDone || op.Page < next {
				c.again = append(c.again, op.Page)
			}
		}
	}
}

// compareAgain compares the next piece of the pages noted by noteChanged
// (in ID order, at most verifyStepPages pages or verifyStepBytes bytes of
// them, at least one page), those that exist on either side, and reports
// whether none is left.
func (c *replayComparer) compareAgain(e, r *Bus) bool {
	slices.Sort(c.again)
	c.again = slices.Compact(c.again)
	n, sum := 0, 0
	for n < len(c.again) && n < verifyStepPages && (n == 0 || sum < verifyStepBytes) {
		id := c.again[n]
		if sl, ok := e.store.Lookup(id); ok {
			sum += e.store.Size(sl)
		} else if sl, ok := r.store.Lookup(id); ok {
			sum += r.store.Size(sl)
		}
		n++
	}
	liveIDs, repIDs := c.liveIDs[:0], c.repIDs[:0]
	for _, id := range c.again[:n] {
		if _, ok := e.store.Lookup(id); ok {
			liveIDs = append(liveIDs, id)
		}
		if _, ok := r.store.Lookup(id); ok {
			repIDs = append(repIDs, id)
		}
	}
	c.pages(e, r, liveIDs, repIDs)
	c.liveIDs, c.repIDs = liveIDs[:0], repIDs[:0]
	c.again = slices.Delete(c.again, 0, n)
	return len(c.again) == 0
}

// stepRange cuts ids, the next pages of s in ID order, after the page that
// takes their bytes to verifyStepBytes, and reports whether the list may
// leave pages out: it was cut, or it holds verifyStepPages pages.
func stepRange(s *page.Store, ids []PageID) ([]PageID, bool) {
	sum := 0
	for k, id := range ids {
		sl, _ := s.Lookup(id)
		if sum += s.Size(sl); sum >= verifyStepBytes && k+1 < len(ids) {
			return ids[:k+1], true
		}
	}
	return ids, len(ids) == verifyStepPages
}

// idsUpTo returns the prefix of ascending ids that are <= bound.
func idsUpTo(ids []PageID, bound PageID) []PageID {
	k, _ := slices.BinarySearch(ids, bound+1)
	if bound == ^PageID(0) {
		k = len(ids)
	}
	return ids[:k]
}

// catchUp applies the live bus's log from e.lastLSN+1 to lsn: the
// operations committed after the replay e reached e.lastLSN. The log must
// hold them all, written out (tlog.Log.WriteThrough). A non-nil seen is
// called with the operations applied (see replayLog).
func (e *Bus) catchUp(ctx context.Context, live *Bus, lsn LSN, seen func([]record.Op)) error {
	if e.lastLSN >= lsn {
		return nil
	}
	var at *tlog.Position
	if pos, ok := live.log.Locate(e.lastLSN + 1); ok {
		at = &pos
	}
	return e.replayLog(ctx, live.fs, live.walDir(), at, ReplayTarget{ToLSN: lsn}, func() error {
		return fmt.Errorf("%w: the log ends at LSN %d, before LSN %d that the bus has applied", ErrCorruption, e.lastLSN, lsn)
	}, seen)
}

// compareStates compares live (locked by caller) with replayed, whole.
func compareStates(live, rep *Bus) ReplayReport {
	c := newReplayComparer()
	c.pages(live, rep, live.store.AppendIDs(nil), rep.store.AppendIDs(nil))
	return c.finish(live, rep)
}

// replayComparer compares a live bus with a replay of its log, a range of
// page IDs at a time, each range with both at one LSN (VerifyReplay), or
// whole (compareStates). It hashes every page it visits, in ID order, as
// StateHash does: compared in one piece, its hashes are the two buses'
// state hashes.
type replayComparer struct {
	out             ReplayReport
	live, rep       *xxhash.Digest
	sumSq           float64
	liveIDs, repIDs []PageID // scratch for the ranges
	// rangesDone: every range of IDs has been compared (VerifyReplay);
	// again: pages to compare again (noteChanged).
	rangesDone bool
	again      []PageID
}

func newReplayComparer() *replayComparer {
	return &replayComparer{live: xxhash.New(), rep: xxhash.New()}
}

func (c *replayComparer) note(format string, args ...any) {
	if len(c.out.Differences) < 10 {
		c.out.Differences = append(c.out.Differences, fmt.Sprintf(format, args...))
	}
}

// pages compares the pages liveIDs of live with the pages repIDs of rep
// (both ascending, the live pages of one ID range on each side).
func (c *replayComparer) pages(live, rep *Bus, liveIDs, repIDs []PageID) {
	i, j := 0, 0
	for i < len(liveIDs) || j < len(repIDs) {
		switch {
		case j >= len(repIDs) || i < len(liveIDs) && liveIDs[i] < repIDs[j]:
			ls, _ := live.store.Lookup(liveIDs[i])
			hashPage(c.live, live.store, ls)
			c.out.PagesDiffering++
			c.note("page %d missing from replay", liveIDs[i])
			i++
		case i >= len(liveIDs) || repIDs[j] < liveIDs[i]:
			rs, _ := rep.store.Lookup(repIDs[j])
			hashPage(c.rep, rep.store, rs)
			c.out.PagesDiffering++
			c.note("page %d only in replay", repIDs[j])
			j++
		default:
			id := liveIDs[i]
			ls, _ := live.store.Lookup(id)
			rs, _ := rep.store.Lookup(id)
			hashPage(c.live, live.store, ls)
			hashPage(c.rep, rep.store, rs)
			if c.differ(live, rep, id, ls, rs) {
				c.out.PagesDiffering++
			}
			c.out.Pages++
			i++
			j++
		}
	}
}

// differ compares page id, at slot ls of live and rs of rep, and notes how
// they differ.
func (c *replayComparer) differ(live, rep *Bus, id PageID, ls, rs page.Slot) bool {
	a, b := live.store.Bytes(ls), rep.store.Bytes(rs)
	diff := false
	if len(a) != len(b) || live.store.Epoch(ls) != rep.store.Epoch(rs) {
		diff = true
		c.note("page %d: size %d/%d epoch %d/%d", id, len(a), len(b), live.store.Epoch(ls), rep.store.Epoch(rs))
	}
	// The state hash covers only IDs, sizes, epochs and bytes: the rest of
	// a page's state is compared here, or a replay that lost it would pass.
	if !page.MetaEqual(live.store.Meta(ls), rep.store.Meta(rs)) || live.flags[id] != rep.flags[id] ||
		live.store.Location(ls) != rep.store.Location(rs) || live.store.LastLSN(ls) != rep.store.LastLSN(rs) {
		diff = true
		c.note("page %d: metadata, flags %d/%d, location %d/%d or last-write LSN %d/%d differ", id,
			live.flags[id], rep.flags[id], live.store.Location(ls), rep.store.Location(rs), live.store.LastLSN(ls), rep.store.LastLSN(rs))
	}
	if bytes.Equal(a, b) {
		return diff
	}
	n := min(len(a), len(b))
	var nb int64
	for k := 0; k < n; k++ {
		if a[k] != b[k] {
			nb++
		}
	}
	nb += int64(max(len(a), len(b)) - n)
	c.out.BytesDiffering += nb
	c.note("page %d: %d bytes differ", id, nb)
	if isF64(live.store.Meta(ls)) {
		for k := 0; k+8 <= n; k += 8 {
			x := math.Float64frombits(le64(a[k:]))
			y := math.Float64frombits(le64(b[k:]))
			d := x - y
			if !math.IsNaN(d) {
				c.sumSq += float64(d * d) // never fused: the same figure on every platform
			}
		}
	}
	return true
}

// finish compares the graphs (live locked by the caller) and returns the
// report.
func (c *replayComparer) finish(live, rep *Bus) ReplayReport {
	out := c.out
	out.LiveHash, out.ReplayHash = c.live.Sum64(), c.rep.Sum64()
	out.L2Divergence = math.Sqrt(c.sumSq)
	out.GraphEqual = sameGraph(live, rep)
	if !out.GraphEqual && len(out.Differences) < 10 {
		out.Differences = append(out.Differences, "edges or bindings differ")
	}
	return out
}

func sameGraph(a, b *Bus) bool {
	if a.graph.NumEdges() != b.graph.NumEdges() || len(a.bindings) != len(b.bindings) {
		return false
	}
	var ea, eb []graph.Edge
	a.graph.Edges(func(e graph.Edge) bool { ea = append(ea, e); return true })
	b.graph.Edges(func(e graph.Edge) bool { eb = append(eb, e); return true })
	for i := range ea {
		if ea[i] != eb[i] {
			return false
		}
	}
	for id, ba := range a.bindings {
		bb, ok := b.bindings[id]
		if !ok || ba.Func != bb.Func || !bytes.Equal(ba.Params, bb.Params) || len(ba.Parents) != len(bb.Parents) {
			return false
		}
		for k := range ba.Parents {
			if ba.Parents[k] != bb.Parents[k] {
				return false
			}
		}
	}
	return true
}

func isF64(meta []page.MetaEntry) bool {
	for _, m := range meta {
		if m.Key == TypeMetaKey {
			return string(m.Value) == "f64"
		}
	}
	return false
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// reportRepairLost adds to the replay's report the LSNs an Open with
// Repair gave up and no Open has reported yet (wal/repair-lost), as the
// next Open reports them: unless the log reached one of them (the bus
// committed since: a stale file), and only those past the checkpoint
// the replay started from. A file that does not decode records a loss
// from the LSN after that checkpoint's on, its end unknown. Replay said
// nothing of a Repair that cut the log and failed
// (TestSecondRepairReportsFirstRepairsLoss).
func (e *Bus) reportRepairLost(fs vfs.FS, walDir string) {
	first, last, err := tlog.ReadRepairLost(fs, walDir)
	if errors.Is(err, tlog.ErrBadRepairLost) {
		first, last = e.recovery.CheckpointLSN+1, LostLSNUnknown
	} else if err != nil {
		return // unreadable: the replay read the log beside it, and Open reports what it finds
	}
	if first == 0 || e.lastLSN >= first {
		return
	}
	first = max(first, e.recovery.CheckpointLSN+1)
	if last < first {
		return
	}
	rec := &e.recovery.Log
	if rec.LostFirstLSN == 0 {
		rec.LostFirstLSN, rec.LostLastLSN = first, last
		return
	}
	rec.LostFirstLSN, rec.LostLastLSN = min(rec.LostFirstLSN, first), max(rec.LostLastLSN, last)
}
