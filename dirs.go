package mmsb

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// checkLogDir refuses a data directory that holds checkpoints but no wal/,
// or a wal/ without a segment where checkpoints/log-mode says a log
// continues them, or (with no checkpoint) says a log holds the bus's
// history (checkLogRemoved). Every Open with a log makes wal/ and a
// segment in it before it can take a checkpoint, and keeps one, so the
// log was removed, and with it every operation committed after the newest
// checkpoint. Open made an empty log there and went on: the loss went
// unreported and the next commits reused the lost LSNs. (An empty wal/
// without the log-mode file is a log that holds nothing past the newest
// checkpoint, as `mmsb replay --out`, a replica's bootstrap and buses
// before the file existed write it; checkpoints/ alone, with no
// checkpoint in it, is an Open that failed before making wal/.) Repair
// accepts the loss, and so does a bus without a log. (An in-memory bus
// starts empty; its checkpoints/ is a scratch directory mounted before
// Open.)
//
// A bus without a log is refused a directory whose wal/ holds an
// operation past the checkpoint it loaded: it ignored every such
// operation, and its own commits took their LSNs; a checkpoint it then
// wrote made the next Open with the log apply the rest of the old log on
// top of it, a state no bus had (the middle of three commits lost, the
// last kept). That is decided once the checkpoint is loaded
// (coveredLog), before the bus writes anything but the directories.
//
// A log whose every record the loaded checkpoint covers does not refuse
// it: nothing committed is lost to a bus without a log (only the history
// before the checkpoint, which such a bus does not keep), and every Open
// with a log leaves a segment (tlog.Options.KeepSegment), empty when
// nothing was committed since its checkpoint.
func (e *Bus) checkLogDir() error {
	if e.memory {
		return nil
	}
	// With Repair or DisableLog too: makeDirs fails on such a wal/ with
	// a bare "mkdir …: file exists".
	if err := logDirUnreachable(e.fs, e.walDir()); err != nil {
		return err
	}
	if e.opts.Repair || e.opts.DisableLog {
		return nil
	}
	return checkLogRemoved(e.fs, e.dir)
}

// logDirUnreachable refuses a log directory walDir that is a symbolic link
// whose target does not exist (tlog.LogDirUnreachable): the log is out of
// reach, not known to be lost. It read as no wal/ at all, so the refusal
// said the log was removed (with a checkpoint) or the bus's files lost
// (without one), and named Options.Repair, whose Open then failed at
// making wal/ ("mkdir …: file exists"), as every Open did
// (TestLogDirDanglingLink). The error wraps vfs.ErrDanglingLink.
func logDirUnreachable(fs vfs.FS, walDir string) error {
	if err := tlog.LogDirUnreachable(fs, walDir); err != nil {
		return fmt.Errorf("mmsb: %w (make the link's target reachable: mount its disk, or restore it; no option opens the bus as it is)", err)
	}
	return nil
}

// repairsRemovedLog reports whether this Open accepts a removed log
// (checkLogDir refuses it without Repair or DisableLog): the bus opens at
// the newest checkpoint (empty when there is none: tlog.FilesLost), and
// what was committed after it is lost, how much (possibly nothing) not
// known (Recovery().Log.LostLastLSN is LostLSNUnknown).
//
// With DisableLog only where checkpoints/log-mode says a log held the
// history (tlog.ModeLog): checkpoints without wal/ and without the file
// may be a bus without a log from before it existed, which lost nothing
// (checkLogRemoved's refusal names DisableLog for that). Until
// 2026-12-07 a DisableLog Open accepted a removed log, and a bus's lost
// files, without a word in Recovery(): the refusals name DisableLog as a
// way to accept the loss, and the loss went unreported, as Repair reports
// it (TestDisableLogReportsRemovedLog).
func (e *Bus) repairsRemovedLog() bool {
	if e.memory || !e.opts.Repair && !e.opts.DisableLog {
		return false
	}
	ckpts, err := checkpointFiles(e.fs, e.ckptDir())
	if err != nil {
		return false
	}
	if len(ckpts) == 0 {
		lost, err := tlog.FilesLost(e.fs, e.walDir(), e.ckptDir())
		return err == nil && lost
	}
	removed, mode, err := tlog.CheckRemoved(e.fs, e.walDir(), e.ckptDir())
	if err != nil || removed == tlog.NotRemoved {
		return false
	}
	// SegmentsRemoved without the log-mode file: wal/newest-segment says
	// a log held the history (tlog.NewestWithoutSegment), which no bus
	// without a log leaves.
	return !e.opts.DisableLog || mode == tlog.ModeLog || removed == tlog.SegmentsRemoved
}

// lossToReport reports whether this Open reports a removed log as lost
// (Recovery().Log.LostFirstLSN): one it accepts (repairsRemovedLog), or
// one an earlier Open accepted and then failed after (its mark is still
// there). The evidence of a removed log goes with the first change
// recovery makes (wal/ made, a segment made in it, "no log" written), and
// an Open can fail after that (a missing function, its shared region not
// published): the next Open then saw an ordinary directory and reported
// nothing (TestRemovedLogReportSurvivesFailedOpen). So the mark is made
// durable before anything changes, and removed only once the Open has
// nothing left that can fail (clearLossPending); whichever Open succeeds
// first reports the loss, with or without Repair or DisableLog.
func (e *Bus) lossToReport() (bool, error) {
	if e.memory {
		return false, nil
	}
	mark := e.fs.Join(e.ckptDir(), tlog.LossPendingFileName)
	if e.fs.Exists(mark) {
		return true, nil
	}
	if !e.repairsRemovedLog() {
		return false, nil
	}
	f, err := e.fs.Create(mark)
	if err != nil {
		return false, fmt.Errorf("mmsb: mark the removed log's loss as not yet reported: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = e.fs.SyncDir(e.ckptDir())
	}
	if err != nil {
		return false, fmt.Errorf("mmsb: mark the removed log's loss as not yet reported: %s: %w", mark, err)
	}
	return true, nil
}

// clearLossPending removes lossToReport's mark, once the Open that
// reports the loss can no longer fail, and, for a bus without a log,
// wal/repair-lost, whose loss coveredLog reported (with a log,
// Log.SettleNewest removes it).
func (e *Bus) clearLossPending() error {
	if e.memory {
		return nil
	}
	if e.log == nil {
		if err := removeAndSync(e.fs, e.walDir(), e.fs.Join(e.walDir(), tlog.RepairLostFileName)); err != nil {
			return err
		}
	}
	return removeAndSync(e.fs, e.ckptDir(), e.fs.Join(e.ckptDir(), tlog.LossPendingFileName))
}

// removeAndSync removes the mark at path in dir, its loss reported, and
// syncs dir; nothing where there is none.
func removeAndSync(fs vfs.FS, dir, path string) error {
	if !fs.Exists(path) {
		return nil
	}
	if err := fs.Remove(path); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("mmsb: remove %s once the loss it marks is reported: %w", path, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("mmsb: sync %s: %w", dir, err)
	}
	return nil
}

// pendingLoss reports the loss that checkpoints/ of dir on fs still marks
// (tlog.LossPendingFileName: an Open with Repair or DisableLog accepted a
// removed log and failed before reporting it) as the first LSN lost: the
// newest checkpoint's LSN + 1 (1 without one), as the Open that succeeds
// next reports it (Recovery().Log.LostFirstLSN). 0: nothing pending, or
// a stale mark: a log holding a record past the newest checkpoint is no
// removed one (a bus committed since an Open reported the loss, when a
// crash brought the mark back: TestStaleLossMarkNotReported), and a log
// that cannot be read is the reader's to report. mmsb.Replay and
// QueryLogDir read it: they said nothing of the loss until 2026-12-07
// (TestReplayReportsPendingLoss, TestQueryLogDirRefusesPendingLoss).
func pendingLoss(fs vfs.FS, dir string) LSN {
	ckDir := fs.Join(dir, "checkpoints")
	if !fs.Exists(fs.Join(ckDir, tlog.LossPendingFileName)) {
		return 0
	}
	var newest LSN
	if ckpts, err := checkpointFiles(fs, ckDir); err == nil {
		for _, c := range ckpts {
			newest = max(newest, c.LSN)
		}
	}
	if _, file, err := lastLogged(fs, fs.Join(dir, "wal"), newest); err != nil || file != "" {
		return 0
	}
	return newest + 1
}

// repairLoss is the range of LSNs wal/repair-lost of dir on fs records
// lost (tlog.RepairLostFileName: an Open with Repair cut the log and no
// Open has reported the cut yet), as the next Open reports it: (0, 0)
// where there is none, where it is stale (a record in the log, or the
// newest checkpoint, holds one of its LSNs: the bus committed since), or
// where the log cannot be read (the reader's to report). A file that does not decode records a loss
// from the newest checkpoint's LSN + 1 on, its end unknown. QueryLogDir
// refuses a directory that holds one: the log it answers from lacks those
// operations (TestSecondRepairReportsFirstRepairsLoss).
func repairLoss(fs vfs.FS, dir string) (LSN, LSN) {
	walDir := fs.Join(dir, "wal")
	first, last, err := tlog.ReadRepairLost(fs, walDir)
	var newest LSN
	if ckpts, err := checkpointFiles(fs, fs.Join(dir, "checkpoints")); err == nil {
		for _, c := range ckpts {
			newest = max(newest, c.LSN)
		}
	}
	if errors.Is(err, tlog.ErrBadRepairLost) {
		first, last, err = newest+1, LostLSNUnknown, nil
	}
	if err != nil || first == 0 || newest >= first {
		// A checkpoint holding one of its LSNs: stale, as Open reads it.
		return 0, 0
	}
	if _, file, err := lastLogged(fs, walDir, first-1); err != nil || file != "" {
		return 0, 0
	}
	return first, last
}

// checkLogRemoved is ErrCorruption when dir on fs holds a checkpoint and
// its log was removed (see Bus.checkLogDir), naming wal/: no wal/ at all,
// or a wal/ without a segment where the log-mode file says a log
// continues the checkpoints (`rm DIR/wal/*`: the bus keeps a segment from
// the first Open with a log, see tlog.Options.KeepSegment). It is the one
// check: Open, the package-level Replay (and so `mmsb replay`, `mmsb
// check`, the offline validators' rebuild) and QueryLogDir call it, and
// the integrity validator calls tlog.CheckRemoved and tlog.FilesLost as
// it does. Open and Replay accept the loss with Options.Repair or
// Options.DisableLog.
//
// Without a checkpoint it is ErrCorruption when the log-mode file says
// "log" and wal/ holds no segment (or is missing): the bus's files were
// lost, and with them every operation it committed (tlog.FilesLost, which
// says why no crash leaves that; the integrity validator calls it too).
// Until 2026-12-07 Open, Replay and `mmsb check` read such a directory as
// a new, empty bus (TestLogModeWithoutSegmentOrCheckpoint). A log-mode
// file that does not decode is refused there too: rewritten by the next
// Open, as it was, it hid an emptied wal/ as well.
func checkLogRemoved(fs vfs.FS, dir string) error {
	walDir, ckDir := fs.Join(dir, "wal"), fs.Join(dir, "checkpoints")
	if err := logDirUnreachable(fs, walDir); err != nil {
		return err
	}
	// Its newest segments removed: the log reads as one ending at the
	// end of the segment before (tlog.NewestFileName). The refusal is
	// tlog's, in the words every reader of the directory uses.
	if err := tlog.CheckNewest(fs, walDir); errors.Is(err, ErrCorruption) {
		return err
	}
	// A name that holds no checkpoint file (an operator's directory) is
	// no checkpoint that a log continued (passOverNonFiles).
	ckpts, err := checkpointFiles(fs, ckDir)
	if err != nil {
		return nil // a listing error is recovery's to report
	}
	if len(ckpts) == 0 {
		// Nothing that a log continued; but a log-mode "log" says a bus
		// with a log ran here, and it keeps a segment.
		lost, err := tlog.FilesLost(fs, walDir, ckDir)
		if errors.Is(err, tlog.ErrBadMode) {
			return fmt.Errorf("%w: %w (written whole by a rename, it was damaged or replaced: remove it, and the directory opens as one written before the file existed)", ErrCorruption, err)
		}
		if err != nil {
			return fmt.Errorf("mmsb: %w", err)
		}
		if lost && logModeOf(fs, ckDir) != tlog.ModeLog {
			return emptiedLog(fs, walDir)
		}
		if lost {
			return fmt.Errorf("%w: %s says a log holds the history of %s, but %s holds no log segment and %s no checkpoint: the bus's files are lost, and with them every operation it committed "+
				"(%srestore them from a backup; Options.Repair accepts the loss: the bus then opens empty, and the next commits take the lost LSNs from 1; "+
				"Options.DisableLog opens it without a log; where no option can be set (mmsb serve), removing %s accepts the loss too, and the directory opens as a new, empty bus)",
				ErrCorruption, fs.Join(ckDir, tlog.ModeFileName), dir, walDir, ckDir, renamedFiles(fs, walDir, ckDir), fs.Join(ckDir, tlog.ModeFileName))
		}
		return nil
	}
	removed, mode, err := tlog.CheckRemoved(fs, walDir, ckDir)
	if errors.Is(err, tlog.ErrBadMode) {
		return fmt.Errorf("%w: %w (written whole by a rename, it was damaged or replaced: remove it, and the directory opens as one written before the file existed)", ErrCorruption, err)
	}
	if err != nil {
		return fmt.Errorf("mmsb: %w", err)
	}
	switch removed {
	case tlog.DirRemoved:
		if mode == tlog.ModeLog {
			// The log-mode file says a log continued the checkpoints:
			// no bus without a log wrote it, and an empty wal/ made by
			// hand is refused as a log emptied of its segments (the
			// advice to create one led there).
			return fmt.Errorf("%w: %s has checkpoints/ but no wal/ (and %s says a log continues them): its log was removed, and with it every operation committed after the newest checkpoint "+
				"(restore %s; Options.Repair accepts the loss: the state is then the newest checkpoint's, and the next commits take the lost LSNs)",
				ErrCorruption, dir, fs.Join(ckDir, tlog.ModeFileName), walDir)
		}
		// A bus opened with DisableLog before the log-mode file existed
		// wrote such a directory too, and the files cannot tell the two
		// apart: the error says how to read it, or its owner had no way
		// to know (the CLI's refusal named only the loss).
		return fmt.Errorf("%w: %s has checkpoints/ but no wal/: its log was removed, and with it every operation committed after the newest checkpoint "+
			"(restore %s; Options.Repair, or creating it empty, accepts the loss: the state is then the newest checkpoint's; "+
			"if a bus opened with Options.DisableLog wrote it, it never had a log: open or replay it with DisableLog)", ErrCorruption, dir, walDir)
	case tlog.SegmentsRemoved:
		if mode != tlog.ModeLog {
			return emptiedLog(fs, walDir)
		}
		return fmt.Errorf("%w: %s holds no log segment, but %s says a log continues the checkpoints of %s: its segments were removed, and with them every operation committed after the newest checkpoint "+
			"(restore them into %s; Options.Repair accepts the loss: the state is then the newest checkpoint's, and the next commits take the lost LSNs; "+
			"Options.DisableLog opens it without a log)", ErrCorruption, walDir, fs.Join(ckDir, tlog.ModeFileName), dir, walDir)
	}
	return nil
}

// emptiedLog is checkLogRemoved's refusal of a log directory walDir that
// holds no segment while its newest-segment file names one, where no
// log-mode file says a log continues the checkpoints (removed with the
// segments, or never written): tlog.NewestWithoutSegment's, in the words
// of tlog.CheckNewest. It opened as a log holding nothing past the newest
// checkpoint, the loss unreported (TestEmptiedLogWithoutModeFileRefused).
func emptiedLog(fs vfs.FS, walDir string) error {
	first, err := tlog.NewestWithoutSegment(fs, walDir)
	if err != nil {
		return fmt.Errorf("mmsb: %w", err)
	}
	return fmt.Errorf("%w (%s)", tlog.NewestWithoutSegmentError(fs, walDir, first), "checkpoints/log-mode, which says whether a log continues the checkpoints, is missing too")
}

// logModeOf is the log mode the checkpoint directory ckDir records
// (tlog.ModeUnknown where it cannot be read: the caller has refused a
// file that does not decode already).
func logModeOf(fs vfs.FS, ckDir string) tlog.Mode {
	m, _ := tlog.ReadMode(fs, ckDir)
	return m
}

// renamedFiles names, as advice that begins the refusal's way out, the
// files of a directory refused as lost files (no checkpoint) that may
// hold what was lost, or "" when there is none: in walDir a segment's
// name with ".del" added (the name the log gives a segment while it
// removes it, which it does only to segments a checkpoint covers, so
// here a segment renamed by hand, possibly holding every commit), and in
// ckDir a checkpoint's temporary name (a checkpoint being written when
// the bus stopped, or renamed by hand). The refusal said only that wal/
// holds no segment and checkpoints/ no checkpoint, and an Open with
// Options.Repair removes both as leftovers
// (TestLogModeWithoutSegmentOrCheckpoint).
func renamedFiles(fs vfs.FS, walDir, ckDir string) string {
	var found []string
	for _, d := range []struct {
		dir  string
		kept func(name string) bool
	}{
		{walDir, func(name string) bool { seg, ok := strings.CutSuffix(name, ".del"); return ok && isSegmentName(seg) }},
		{ckDir, checkpoint.IsTempName},
	} {
		names, err := fs.List(d.dir)
		if err != nil {
			continue
		}
		for _, name := range names {
			if d.kept(name) {
				found = append(found, fs.Join(d.dir, name))
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	verb := "remain"
	if len(found) == 1 {
		verb = "remains" // "X remain" of one file until 2026-12-07 (TestLogModeWithoutSegmentOrCheckpoint)
	}
	return fmt.Sprintf("%s %s under the names a segment being removed (only ever beside a checkpoint) or a checkpoint being written takes: if one is this bus's file, whole, rename it back "+
		"without \".del\" or \".tmp\" before anything else (an Open with Options.Repair removes them, and so does every Open once the log-mode file is removed); otherwise ", strings.Join(found, ", "), verb)
}

// lastLogged reads the log in walDir to its end and returns the first
// record holding an operation past LSN after (its first LSN and its
// segment's path; "": none does). It only reads. A log that cannot be
// read to its end is an error (a torn tail ends it, as in recovery).
// Like recovery with the log, it skips the segments that end at or
// before after: damage in a segment the checkpoint wholly covers is
// history the checkpoint replaces, and read from LSN 1 it refused a
// directory that Open with the log opened
// (TestDisableLogOverDamagedCoveredLog). A last segment holding only a
// torn header (a crash while an Open with the log made it) ends the log
// too, holding no record, as recovery reads it: it was refused as a log
// that cannot be read to its end, so a bus opened without a log, then
// with one that crashed making its segment, was refused without one
// (TestDisableLogAfterLogOpenCrashAtEveryStep).
func lastLogged(fs vfs.FS, walDir string, after LSN) (LSN, string, error) {
	r, err := tlog.NewReader(fs, walDir, after+1)
	if err != nil {
		if tornLast(fs, walDir, err, after+1) {
			return 0, "", nil
		}
		return 0, "", err
	}
	defer r.Close() //nolint:errcheck // read only
	var first LSN
	var file string
	due := after + 1 // where the log read so far continues
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) || err != nil && tornLast(fs, walDir, err, due) {
			return first, file, nil
		}
		if err != nil {
			return 0, "", err
		}
		due = max(due, rec.LastLSN()+1)
		if file == "" && rec.LastLSN() > after {
			first, file = max(rec.FirstLSN, after+1), rec.File
		}
	}
}

// tornLast reports whether err, met reading the log in walDir, is the
// damaged header of the log's last segment, which holds only what a crash
// leaves while a header is written (tlog.HoldsTornHeader): no record.
// due is the LSN the log continues at where it was read (the one after
// the last record read, or the first asked for), or 0 when any will do
// (firstLogLSN: the replay after it checks again). A segment named past
// due follows a gap, which no crash leaves (tlog.ContinuesLog): read as
// the end, it hid the loss of the segments between, as recovery did
// (TestTornHeaderAfterGapIsCorruption).
func tornLast(fs vfs.FS, walDir string, err error, due LSN) bool {
	var cerr *CorruptionError
	if !errors.As(err, &cerr) || cerr.Offset != 0 {
		return false
	}
	names, lerr := fs.List(walDir)
	if lerr != nil {
		return false
	}
	last := ""
	for _, name := range names {
		if isSegmentName(name) && name > last {
			last = name // zero-padded: the greatest is the last
		}
	}
	if last == "" || cerr.File != fs.Join(walDir, last) {
		return false
	}
	if first, _ := tlog.ParseSegmentName(last); due != 0 && !tlog.ContinuesLog(first, due, due) {
		return false
	}
	torn, terr := tlog.HoldsTornHeader(fs, cerr.File)
	return terr == nil && torn
}

// writeLogMode records how the bus's history continues its checkpoints
// (tlog.ModeLog once Open made or found a log segment, tlog.ModeNoLog for
// a bus without a log): the file by which checkLogRemoved tells a log
// holding nothing past the newest checkpoint from one whose segments were
// removed. An in-memory bus keeps no directory to describe.
func (e *Bus) writeLogMode(m tlog.Mode) error {
	if e.memory {
		return nil
	}
	if err := tlog.WriteMode(e.fs, e.ckptDir(), m); errors.Is(err, tlog.ErrBadMode) {
		return fmt.Errorf("%w: %w", ErrCorruption, err) // not a file: a directory or device under its name
	} else if err != nil {
		return fmt.Errorf("mmsb: %w", err)
	}
	return nil
}

// makeDirs creates the checkpoint and log directories and makes their
// entries durable by syncing the data directory. Without that sync a power
// failure can lose a new directory with every file in it, however well those
// files were synced. It syncs even when both already exist: a process that
// crashed between creating one and syncing leaves it present but not
// durable, and everything later committed into it would share its fate.
//
// A bus without a log (DisableLog) makes wal/ too, and leaves it empty
// (dropLog): its checkpoints are continued by nothing, which Open
// with a log, Replay and every CLI command that reads a directory accept
// (checkLogRemoved); `mmsb check` checks it as with --no-log.
func (e *Bus) makeDirs() error {
	for _, d := range []string{e.ckptDir(), e.walDir()} {
		if err := e.fs.MkdirAll(d); err != nil {
			return fmt.Errorf("mmsb: create %s: %w", d, err)
		}
	}
	if err := e.fs.SyncDir(e.dir); err != nil {
		return fmt.Errorf("mmsb: sync %s: %w", e.dir, err)
	}
	return nil
}

// coveredLog returns the log segments in the wal/ of a bus opened
// without a log, once its checkpoint is loaded (at LSN e.lastLSN), for
// dropLog to remove. A log holding an operation past the checkpoint is
// refused (checkLogDir says why), naming the way to keep those
// operations, and so is one that cannot be read to its end. A log whose
// every record the checkpoint covers goes: those operations are in the
// checkpoint's state, and what goes with them is the history before it
// (Replay from an older checkpoint, ReadPageAt of older LSNs), which a
// bus without a log does not keep.
func (e *Bus) coveredLog() ([]string, error) {
	if e.memory {
		return nil, nil
	}
	names, err := e.fs.List(e.walDir())
	if err != nil {
		return nil, fmt.Errorf("mmsb: list %s: %w", e.walDir(), err)
	}
	var segs []string
	for _, name := range names {
		if isSegmentName(name) {
			segs = append(segs, name)
		}
	}
	if len(segs) == 0 {
		return nil, nil
	}
	// Its newest segment removed, the log read to the end of the one
	// before, and the operations in the removed ones went with
	// dropLog's segments, unreported (tlog.NewestFileName).
	// Refused in the words of every other reader (tlog.CheckNewest),
	// or accepted under Repair (a file that does not decode too, as
	// recovery reads it).
	err = tlog.CheckNewest(e.fs, e.walDir())
	if err != nil && (!e.opts.Repair || !errors.Is(err, ErrCorruption)) {
		return nil, fmt.Errorf("mmsb: Options.DisableLog on %s: %w", e.dir, err)
	}
	if err != nil && !tlog.RepairLostCovers(e.fs, e.walDir(), e.lastLSN+1) {
		// Unless wal/repair-lost records the loss of those segments,
		// with its end (reportRepairLost below): merged with an
		// unknown end, the report lost it
		// (TestRepairLostKeepsKnownEndPastRemovedSegments).
		e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = e.lastLSN+1, LostLSNUnknown
	}
	lsn, file, err := lastLogged(e.fs, e.walDir(), e.lastLSN)
	if err != nil {
		return nil, fmt.Errorf("%w: Options.DisableLog on %s, whose log %s cannot be read to its end (%w): the bus would ignore the operations it holds past the newest checkpoint "+
			"and commit over their LSNs (open it with its log)", ErrInvalidOption, e.dir, e.walDir(), err)
	}
	if file != "" {
		at := "no checkpoint"
		if e.recovery.Checkpoint != "" {
			at = fmt.Sprintf("checkpoint %s (LSN %d)", e.recovery.Checkpoint, e.lastLSN)
		}
		if len(e.recovery.SkippedCheckpoint) > 0 {
			at += " (newer ones did not load: " + strings.Join(e.recovery.SkippedCheckpoint, "; ") + ")"
		}
		return nil, fmt.Errorf("%w: Options.DisableLog on %s, whose log %s holds segment %s (operations from LSN %d) past %s: the bus would ignore them "+
			"and commit over their LSNs (open it with its log; a checkpoint taken then covers them, and DisableLog opens it after that)",
			ErrInvalidOption, e.dir, e.walDir(), file, lsn, at)
	}
	// A Repair that cut the log and failed after (wal/repair-lost): its
	// loss, as an Open with the log reports it; clearLossPending removes
	// the file. A DisableLog Open reported nothing and left it, and the
	// next Open with a log, after this bus committed over the lost LSNs
	// and checkpointed, reported those past its checkpoint lost
	// (TestDisableLogReportsRepairLost).
	e.reportRepairLost(e.fs, e.walDir())
	slices.Sort(segs) // by first LSN: the names are zero-padded
	return segs, nil
}

// dropLog makes the directory of a bus opened without a log one that a
// bus without a log wrote: it records tlog.ModeNoLog in
// checkpoints/log-mode and removes the segments coveredLog returned (a
// bus with a log opened the directory before and recorded tlog.ModeLog,
// which would read as a removed log without them; beside "no log" they
// would make `mmsb check` and the offline validators check the directory
// as one with a log).
//
// The log-mode file says "no log" first, so that a crash in between
// leaves no "log" beside a wal/ without a segment, which reads as a
// removed log; the segments go oldest first, so that what a crash leaves
// of them is a log trimmed as a checkpoint trims it, which an Open with
// the log reads as before, and which the next DisableLog Open removes
// (TestDisableLogCrashAtEveryStep).
func (e *Bus) dropLog(segs []string) error {
	if err := e.writeLogMode(tlog.ModeNoLog); err != nil {
		return err
	}
	if len(segs) == 0 {
		return nil
	}
	// The newest-segment file goes before the segments: beside none, it
	// says a log was emptied (tlog.NewestWithoutSegment), which a bus
	// without a log is not.
	if err := e.fs.Remove(e.fs.Join(e.walDir(), tlog.NewestFileName)); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("mmsb: remove the log's newest-segment file: %w", err)
	}
	for _, name := range segs {
		if err := e.fs.Remove(e.fs.Join(e.walDir(), name)); err != nil && !vfs.IsNotExist(err) {
			return fmt.Errorf("mmsb: remove log segment covered by the checkpoint: %w", err)
		}
	}
	if err := e.fs.SyncDir(e.walDir()); err != nil {
		return fmt.Errorf("mmsb: sync %s: %w", e.walDir(), err)
	}
	return nil
}

// isSegmentName reports whether name is a log segment's file name.
func isSegmentName(name string) bool {
	_, ok := tlog.ParseSegmentName(name)
	return ok
}
