package mmsb

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// checkLogDir refuses a data directory that holds checkpoints but no wal/,
// or a wal/ without a segment where checkpoints/log-mode says a log
// continues them (checkLogRemoved). Every Open with a log makes wal/ and a
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
// A bus without a log is refused a directory whose wal/ holds logged
// operations: it loaded the newest checkpoint and ignored every operation
// the log held after it, and its own commits took those operations' LSNs;
// a checkpoint it then wrote made the next Open with the log apply the
// rest of the old log on top of it, a state no bus had (the middle of
// three commits lost, the last kept).
//
// Segments holding no record do not refuse it: every Open with a log
// leaves one (tlog.Options.KeepSegment), and a bus opened once with its
// log and nothing committed, or reopened after a checkpoint that
// restarted its log, lost nothing to a bus without one.
func (e *Bus) checkLogDir() error {
	if !e.memory && e.opts.DisableLog {
		names, err := e.fs.List(e.walDir())
		if vfs.IsNotExist(err) {
			return nil // a bus that never had a log
		}
		if err != nil {
			return fmt.Errorf("mmsb: list %s: %w", e.walDir(), err)
		}
		if !slices.ContainsFunc(names, isSegmentName) {
			return nil
		}
		// Segments are refused for the operations they hold, not for
		// being there: every Open with a log leaves one, empty when
		// nothing was committed since its checkpoint (or at all), and a
		// bus without a log loses nothing to it (makeDirs removes it).
		lsn, file, err := firstLogged(e.fs, e.walDir())
		if err != nil {
			return fmt.Errorf("%w: Options.DisableLog on %s, whose log %s cannot be read to its end (%w): the bus would ignore the operations it holds past the newest checkpoint "+
				"and commit over their LSNs (open it with its log)", ErrInvalidOption, e.dir, e.walDir(), err)
		}
		if file != "" {
			return fmt.Errorf("%w: Options.DisableLog on %s, whose log %s holds segment %s (operations from LSN %d): the bus would ignore the operations it holds past the newest checkpoint "+
				"and commit over their LSNs (open it with its log)", ErrInvalidOption, e.dir, e.walDir(), file, lsn)
		}
		return nil
	}
	if e.memory || e.opts.Repair {
		return nil
	}
	return checkLogRemoved(e.fs, e.dir)
}

// checkLogRemoved is ErrCorruption when dir on fs holds a checkpoint and
// its log was removed (see Bus.checkLogDir), naming wal/: no wal/ at all,
// or a wal/ without a segment where the log-mode file says a log
// continues the checkpoints (`rm DIR/wal/*`: the bus keeps a segment from
// the first Open with a log, see tlog.Options.KeepSegment). It is the one
// check: Open, the package-level Replay (and so `mmsb replay`, `mmsb
// check`, the offline validators' rebuild) and QueryLogDir call it, and
// the integrity validator calls tlog.CheckRemoved as it does. Open and
// Replay accept the loss with Options.Repair or Options.DisableLog.
func checkLogRemoved(fs vfs.FS, dir string) error {
	walDir, ckDir := fs.Join(dir, "wal"), fs.Join(dir, "checkpoints")
	if ckpts, err := checkpoint.List(fs, ckDir); err != nil || len(ckpts) == 0 {
		return nil // nothing that a log continued; a listing error is recovery's to report
	}
	removed, _, err := tlog.CheckRemoved(fs, walDir, ckDir)
	if errors.Is(err, tlog.ErrBadMode) {
		return fmt.Errorf("%w: %w (written whole by a rename, it was damaged or replaced: remove it, and the directory opens as one written before the file existed)", ErrCorruption, err)
	}
	if err != nil {
		return fmt.Errorf("mmsb: %w", err)
	}
	switch removed {
	case tlog.DirRemoved:
		// A bus opened with DisableLog before the log-mode file existed
		// wrote such a directory too, and the files cannot tell the two
		// apart: the error says how to read it, or its owner had no way
		// to know (the CLI's refusal named only the loss).
		return fmt.Errorf("%w: %s has checkpoints/ but no wal/: its log was removed, and with it every operation committed after the newest checkpoint "+
			"(restore %s; Options.Repair, or creating it empty, accepts the loss: the state is then the newest checkpoint's; "+
			"if a bus opened with Options.DisableLog wrote it, it never had a log: open or replay it with DisableLog)", ErrCorruption, dir, walDir)
	case tlog.SegmentsRemoved:
		return fmt.Errorf("%w: %s holds no log segment, but %s says a log continues the checkpoints of %s: its segments were removed, and with them every operation committed after the newest checkpoint "+
			"(restore them into %s; Options.Repair accepts the loss: the state is then the newest checkpoint's, and the next commits take the lost LSNs; "+
			"Options.DisableLog opens it without a log)", ErrCorruption, walDir, fs.Join(ckDir, tlog.ModeFileName), dir, walDir)
	}
	return nil
}

// firstLogged returns the first record of the log in walDir: its first
// LSN and its segment's path ("": the log holds no record). It only
// reads. A log that cannot be read to its end is an error (a torn tail
// ends it, as in recovery).
func firstLogged(fs vfs.FS, walDir string) (LSN, string, error) {
	r, err := tlog.NewReader(fs, walDir, 0)
	if err != nil {
		return 0, "", err
	}
	defer r.Close() //nolint:errcheck // read only
	rec, err := r.Next()
	if errors.Is(err, io.EOF) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	return rec.FirstLSN, rec.File, nil
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
	if err := tlog.WriteMode(e.fs, e.ckptDir(), m); err != nil {
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
// A bus without a log (DisableLog) makes wal/ too, and leaves it empty,
// and records tlog.ModeNoLog in checkpoints/log-mode: its checkpoints are
// continued by nothing, which Open with a log, Replay and every CLI
// command that reads a directory accept (checkLogRemoved); `mmsb check`
// checks it as with --no-log.
func (e *Bus) makeDirs() error {
	for _, d := range []string{e.ckptDir(), e.walDir()} {
		if err := e.fs.MkdirAll(d); err != nil {
			return fmt.Errorf("mmsb: create %s: %w", d, err)
		}
	}
	if err := e.fs.SyncDir(e.dir); err != nil {
		return fmt.Errorf("mmsb: sync %s: %w", e.dir, err)
	}
	if e.opts.DisableLog {
		// checkLogDir refused a wal/ holding a record: the directory now
		// has no log, and says so (a bus with a log opened it before and
		// recorded tlog.ModeLog, which would read as a removed log), and
		// the empty segment such a bus kept goes.
		if err := e.writeLogMode(tlog.ModeNoLog); err != nil {
			return err
		}
		return e.removeEmptySegments()
	}
	return nil
}

// removeEmptySegments removes the log segments holding no record that
// checkLogDir found in the wal/ of a bus opened without a log (a bus with
// a log keeps one): the directory is then one that a bus without a log
// wrote, which `mmsb check` and the offline validators read as such
// (they refuse "no log" beside a segment). The log-mode file says "no
// log" first, so that a crash in between leaves no "log" beside a wal/
// without a segment, which reads as a removed log.
func (e *Bus) removeEmptySegments() error {
	if e.memory {
		return nil
	}
	names, err := e.fs.List(e.walDir())
	if err != nil {
		return fmt.Errorf("mmsb: list %s: %w", e.walDir(), err)
	}
	if !slices.ContainsFunc(names, isSegmentName) {
		return nil
	}
	// checkLogDir found no record; the directory is locked since.
	if _, file, err := firstLogged(e.fs, e.walDir()); err != nil {
		return fmt.Errorf("mmsb: read %s: %w", e.walDir(), err)
	} else if file != "" {
		return fmt.Errorf("mmsb: %s holds a log record after all (%s): its segments are kept", e.walDir(), file)
	}
	for _, name := range names {
		if !isSegmentName(name) {
			continue
		}
		if err := e.fs.Remove(e.fs.Join(e.walDir(), name)); err != nil && !vfs.IsNotExist(err) {
			return fmt.Errorf("mmsb: remove empty log segment: %w", err)
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
