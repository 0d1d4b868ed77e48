package mmsb

import (
	"fmt"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// checkLogDir refuses a data directory that holds checkpoints but no wal/.
// Every Open with a log makes wal/ before it can take a checkpoint, so wal/
// was removed, and with it every operation committed after the newest
// checkpoint. Open made an empty log there and went on: the loss went
// unreported and the next commits reused the lost LSNs. (An empty wal/ is a
// log that holds nothing past the newest checkpoint, as `mmsb replay --out`
// and a replica's bootstrap write it; checkpoints/ alone, with no
// checkpoint in it, is an Open that failed before making wal/.) Repair
// accepts the loss, and so does a bus without a log. (An in-memory bus
// starts empty; its checkpoints/ is a scratch directory mounted before
// Open.)
//
// A bus without a log is refused a directory whose wal/ holds a log
// segment: it loaded the newest checkpoint and ignored every operation
// the log held after it, and its own commits took those operations' LSNs;
// a checkpoint it then wrote made the next Open with the log apply the
// rest of the old log on top of it, a state no bus had (the middle of
// three commits lost, the last kept).
func (e *Bus) checkLogDir() error {
	if !e.memory && e.opts.DisableLog {
		names, err := e.fs.List(e.walDir())
		if vfs.IsNotExist(err) {
			return nil // a bus that never had a log
		}
		if err != nil {
			return fmt.Errorf("mmsb: list %s: %w", e.walDir(), err)
		}
		for _, name := range names {
			if _, ok := tlog.ParseSegmentName(name); ok {
				return fmt.Errorf("%w: Options.DisableLog on %s, whose log %s holds segment %s: the bus would ignore the operations it holds past the newest checkpoint "+
					"and commit over their LSNs (open it with its log)", ErrInvalidOption, e.dir, e.walDir(), name)
			}
		}
		return nil
	}
	if e.memory || e.opts.Repair {
		return nil
	}
	return checkLogRemoved(e.fs, e.dir)
}

// checkLogRemoved is ErrCorruption when dir on fs holds a checkpoint and
// no wal/ (see Bus.checkLogDir), naming wal/. Open and the package-level
// Replay refuse such a directory; both accept it with Options.Repair or
// Options.DisableLog.
func checkLogRemoved(fs vfs.FS, dir string) error {
	walDir := fs.Join(dir, "wal")
	if fs.Exists(walDir) {
		return nil
	}
	if ckpts, err := checkpoint.List(fs, fs.Join(dir, "checkpoints")); err != nil || len(ckpts) == 0 {
		return nil // nothing that a log continued; a listing error is recovery's to report
	}
	// A bus opened with DisableLog writes such a directory too, and the
	// files cannot tell the two apart: the error says how to read it, or
	// its owner had no way to know (the CLI's refusal named only the loss).
	return fmt.Errorf("%w: %s has checkpoints/ but no wal/: its log was removed, and with it every operation committed after the newest checkpoint "+
		"(restore %s; Options.Repair, or creating it empty, accepts the loss: the state is then the newest checkpoint's; "+
		"if a bus opened with Options.DisableLog wrote it, it never had a log: open or replay it with DisableLog)", ErrCorruption, dir, walDir)
}

// makeDirs creates the checkpoint and log directories and makes their
// entries durable by syncing the data directory. Without that sync a power
// failure can lose a new directory with every file in it, however well those
// files were synced. It syncs even when both already exist: a process that
// crashed between creating one and syncing leaves it present but not
// durable, and everything later committed into it would share its fate.
//
// A bus without a log (DisableLog) makes wal/ too, and leaves it empty: an
// empty wal/ beside checkpoints says that nothing was committed past the
// newest one, which is what such a bus's directory holds. Without it the
// directory looked like one whose log was removed, and Open, Replay and
// every CLI command that reads a directory refused it (checkLogRemoved).
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
