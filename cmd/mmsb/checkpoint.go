package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// checkpointResult is what `mmsb checkpoint --json` prints.
type checkpointResult struct {
	Dir             string  `json:"dir"`
	Path            string  `json:"path"`
	LSN             uint64  `json:"lsn"`
	Pages           int     `json:"pages"`
	Bytes           int64   `json:"bytes"`
	DurationSec     float64 `json:"duration_sec"`
	SegmentsRemoved int     `json:"segments_removed"`
	RecoverySec     float64 `json:"recovery_sec"`
	// PacedSec is how long the checkpoint slept to hold --rate.
	PacedSec float64 `json:"paced_sec"`
}

func (a *app) checkpointCmd() *cobra.Command {
	var jsonOut bool
	var rate int64
	cmd := &cobra.Command{
		Use:   "checkpoint DIR",
		Short: "Take a checkpoint of a data directory now",
		Long: `checkpoint opens the bus in DIR as its writer (recovering it: a torn log tail
is truncated as on any Open), writes a checkpoint of the whole state, removes
checkpoints and log segments that are no longer needed (the two newest
checkpoints are kept, and segments only once the older of them covers them),
and prints the checkpoint's path, LSN, page count, size, duration and the
number of segments removed.

It needs the directory's write lock: while another process has the bus open,
checkpoint fails and changes nothing (that process checkpoints by itself).

The checkpoint is written as fast as the device takes it: a running bus paces
its checkpoints (64 MiB/s by default) so that its commits' log syncs do not
wait behind them, but no commit runs while this command holds the directory.
--rate paces it anyway, for a disk other programs are using.`,
		Example: `  mmsb checkpoint ./data
  mmsb checkpoint --json ./data
  mmsb checkpoint --rate 33554432 ./data`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCheckpoint(cmd.Context(), args[0], rate, jsonOut)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object instead of text")
	cmd.Flags().Int64Var(&rate, "rate", -1, "bytes per second the checkpoint writes at most (-1: no limit; 0: a running bus's default, 64 MiB/s; at least 1 MiB/s; other values are a usage error) (Options.CheckpointWriteRate)")
	return cmd
}

func (a *app) runCheckpoint(ctx context.Context, dir string, rate int64, jsonOut bool) error {
	if rate > 0 && rate < mmsb.MinCheckpointWriteRate {
		return usageErr("--rate %d: a limit must be at least %d bytes a second (-1: no limit)", rate, mmsb.MinCheckpointWriteRate)
	}
	if rate < -1 {
		// Every negative rate is "no limit" to the bus, so --rate -5 (a
		// slip for 5, or for a limit) ran unpaced without a word.
		return usageErr("--rate %d: -1 means no limit and 0 the bus default; a limit must be at least %d bytes a second", rate, mmsb.MinCheckpointWriteRate)
	}
	if err := requireDataDir(dir); err != nil {
		return err
	}
	if err := requireBusFiles(dir, ", and checkpoint makes none: nothing was changed"); err != nil {
		return err
	}
	// Open refuses checkpoints without wal/ too; this also catches a
	// directory whose log went before its first checkpoint (Open takes
	// checkpoints/ alone for an Open that failed before making wal/).
	if err := requireLogDir(dir); err != nil {
		return err
	}
	if onlyHeldNothing(dir) {
		// What check warns of (heldNothingWarning): the Open below makes
		// a new bus of it, whose commits take the LSNs from 1 again. It
		// said nothing, though a bus from before the log-mode file whose
		// wal/ was emptied leaves the same files
		// (TestCheckpointWarnsOfHeldNothing).
		fmt.Fprintf(a.stderr, "warning: %s: %s\n", dir, heldNothingWarning(dir))
	}
	// Bindings to functions this binary does not know must not stop a
	// checkpoint: it copies their bytes and never recomputes them.
	bus, err := mmsb.Open(dir, &mmsb.Options{AllowMissingFunctions: true, CheckpointBytes: -1, CheckpointWriteRate: rate})
	if errors.Is(err, mmsb.ErrLocked) {
		return busInUse(dir, err, "a running bus checkpoints by itself; stop it first to checkpoint from here")
	}
	if errors.Is(err, tlog.ErrBadMode) {
		// The error says what to do: the general advice below sent the
		// operator to Options.Repair, "accepting the loss", for a file
		// that only records whether a log continues the checkpoints.
		return fmt.Errorf("open %s: %w (nothing was changed; that file only records whether a log continues the checkpoints: Options.Repair is not needed, and mmsb check %s lists any other problem)", dir, err, dir)
	}
	if errors.Is(err, mmsb.ErrCorruption) {
		// Say what to do next: the bare error named the damage and nothing else.
		return fmt.Errorf("open %s: %w (nothing was changed: mmsb check %s lists every problem, and docs/operations.md, \"Recovery\", says how to open it with Options.Repair, accepting the loss)", dir, err, dir)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	rec := bus.Recovery()
	if rec.Log.TornFile != "" {
		fmt.Fprintf(a.stderr, "note: recovery truncated a torn tail of %s in %s at offset %d\n",
			counted(rec.Log.TornBytes, "byte", "bytes"), rec.Log.TornFile, rec.Log.TornOffset)
	}
	// Open succeeded, so nothing committed is lost. The command said
	// nothing, and its checkpoint removes the damaged file (a skipped
	// checkpoint is not one of the two kept): the only trace of a disk
	// that damages files went with it.
	a.noteSkippedCheckpoints(rec, "this checkpoint removes it")
	if lost := lostCommits(rec.Log); lost != "" {
		// The Open reported the loss an earlier Open accepted and
		// failed after (checkpoints/log-mode.lost, which it removed):
		// the command said nothing, so no one was ever told
		// (TestCheckReportsPendingLoss).
		fmt.Fprintf(a.stderr, "warning: %s: %s\n", termText(dir), lost)
	}
	if rec.Log.CoveredDamage > 0 {
		fmt.Fprintf(a.stderr, "note: recovery skipped %d damaged log record(s) that a checkpoint covers, the first in %s at offset %d (%s); run mmsb check for the history\n",
			rec.Log.CoveredDamage, rec.Log.CoveredDamageFile, rec.Log.CoveredDamageOffset, rec.Log.CoveredDamageReason)
	}
	info, err := bus.Checkpoint(ctx)
	paced := bus.Stats().CheckpointPaced
	if cerr := bus.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		// An interrupt said "checkpoint DIR: mmsb: checkpoint: context
		// canceled"; the partial file is removed either way.
		return interrupted(ctx, "checkpoint of "+dir, fmt.Errorf("checkpoint %s: %w", dir, err))
	}
	res := checkpointResult{Dir: dir, Path: info.Path, LSN: uint64(info.LSN), Pages: info.Pages, Bytes: info.Bytes,
		DurationSec: info.Duration.Seconds(), SegmentsRemoved: info.SegmentsRemoved, RecoverySec: rec.Duration.Seconds(),
		PacedSec: paced.Seconds()}
	if res.SegmentsRemoved == 0 {
		if lsns := checkpointLSNs(filepath.Join(dir, "checkpoints")); len(lsns) < 2 {
			fmt.Fprintf(a.stderr, "note: no log segment removed: segments go once the older of the two newest checkpoints covers them, and %s holds one checkpoint (a second, after more commits, lets the log before this one go)\n", dir)
		}
	}
	if jsonOut {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "checkpoint        %s\nLSN               %d\npages             %d\nbytes             %d (%s)\nduration          %s\nsegments removed  %d\n",
		res.Path, res.LSN, res.Pages, res.Bytes, humanBytes(res.Bytes), info.Duration.Round(1000), res.SegmentsRemoved)
	if paced > 0 {
		fmt.Fprintf(a.stdout, "paced             %s (--rate %d)\n", paced.Round(1000), rate)
	}
	return nil
}

// requireBusFiles refuses a directory in which no bus ever ran: one whose
// wal/ holds no log segment and whose checkpoints/ holds no checkpoint and
// no log-mode file, as another program's directory that has a wal/ (a
// Prometheus data directory has one) or an empty checkpoints/. checkpoint
// is the one command that writes into an existing DIR, and Open makes a
// bus anywhere: it wrote LOCK, checkpoints/ and a log segment into such a
// directory beside the other program's files and exited 0. Every bus has
// a segment from its first Open with a log, and a log-mode file (or, from
// before that file, a checkpoint) when opened without one. A directory
// that cannot be listed is left to Open, which reports it. check, inspect
// and graph refuse it too: they said "OK" or showed an empty bus there.
// A LOCK beside nothing else that no bus makes is a bus that held nothing
// (heldNothing), accepted. tail ends the message (what the command did
// not do).
func requireBusFiles(dir, tail string) error {
	if busFilesRead(dir) {
		return nil
	}
	traces := busTraces(dir)
	if len(traces) == 0 && heldNothing(dir) {
		return nil
	}
	if len(traces) > 0 {
		// A bus ran here and lost its files (a bad disk, a wrong mv):
		// damage, which check must report as such, not as another
		// program's directory.
		return fmt.Errorf("%w: %s: %s, but %s %s: a bus ran there and its files were lost or renamed (restore them from a backup)%s",
			errBusFilesLost, termText(dir), noBusFilesRead(dir), strings.Join(traces, ", "), inNumber(len(traces), "remains", "remain"), tail)
	}
	return fmt.Errorf("%w: %s: %s: no bus ran there (another program's directory?)%s",
		errNotDataDir, termText(dir), noBusFilesRead(dir), tail)
}

// noBusFilesRead says, for requireBusFiles's refusal, why dir holds no
// file a bus reads: what its wal/ and checkpoints/ lack, or that one of
// them is not a directory (a file of another program's under that name).
// The refusal said "its checkpoints/ no checkpoint" of a file named
// checkpoints (TestNonDirectoryBusSubdirNamed).
func noBusFilesRead(dir string) string {
	var said []string
	for _, sub := range []struct{ name, lacks string }{
		{"wal", "its wal/ holds no log segment"},
		{"checkpoints", "its checkpoints/ holds no checkpoint and no " + tlog.ModeFileName + " file"},
	} {
		if st, err := os.Stat(filepath.Join(dir, sub.name)); err == nil && !st.IsDir() {
			said = append(said, "its "+sub.name+" is not a directory")
			continue
		}
		said = append(said, sub.lacks)
	}
	return strings.Join(said, " and ")
}

// busFilesRead reports whether dir holds a file a bus reads: a log
// segment in wal/, a checkpoint or the log-mode file in checkpoints/. A
// wal/ or checkpoints/ that cannot be listed counts as holding one (Open
// reports it), but not one that is no directory (ENOTDIR): a file so
// named holds no bus's files. It counted as one, so that checkpoint of
// another program's directory holding a wal/ and a file named
// checkpoints wrote LOCK there and failed on a mkdir, and check, inspect,
// read and graph blamed the directory's "damage" where they refuse a
// directory without a bus (TestNonDirectoryBusSubdirNamed).
func busFilesRead(dir string) bool {
	for _, sub := range []struct {
		name string
		ours func(string) bool
	}{
		{"wal", func(n string) bool { _, ok := tlog.ParseSegmentName(n); return ok }},
		{"checkpoints", func(n string) bool { _, ok := checkpoint.ParseName(n); return ok || n == tlog.ModeFileName }},
	} {
		entries, err := os.ReadDir(filepath.Join(dir, sub.name))
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return true
		}
		for _, e := range entries {
			if sub.ours(e.Name()) {
				return true
			}
		}
	}
	return false
}

// onlyHeldNothing reports whether requireBusFiles accepts dir only as a
// bus that held nothing (heldNothing): no file a bus reads, no trace of
// one lost, a LOCK beside only what a bus makes.
func onlyHeldNothing(dir string) bool {
	return !busFilesRead(dir) && len(busTraces(dir)) == 0 && heldNothing(dir)
}

// requireBusDirToWrite refuses a DIR that a command opening a bus for
// writing (replicate, follow, serve --replicate: checkNodeDir; serve
// --dir: its checkPaths) was given when it exists and holds
// files, but no bus: Open makes a bus anywhere, so `mmsb replicate --dir
// ~` wrote LOCK, wal/ and checkpoints/ among the home directory's files,
// and a node bootstrapped a replica into another program's directory. Accepted are a DIR that does not exist yet (the
// bus makes it), one that cannot be listed (Open says why), an empty one
// (one holding only what a fresh filesystem or mount holds, lost+found
// or a .snapshot directory: mountMetadata, counts as empty), a
// bus (requireBusFiles, as mmsb checkpoint decides), a replication
// node's directory (its marker or term file: the node decides, and serve
// without --replicate refuses it), and one holding only names a bus
// makes (a first Open that crashed before it finished: Open goes on from
// there). The error names DIR and (a few of) the files no bus made.
func requireBusDirToWrite(dir string) error {
	if dir == "" {
		return nil
	}
	foreign, node, err := filesNoBusMakes(dir)
	if err != nil || node || len(foreign) == 0 {
		return nil
	}
	if requireBusFiles(dir, "") == nil {
		return nil
	}
	const most = 3
	named := make([]string, 0, most)
	for _, f := range foreign[:min(len(foreign), most)] {
		named = append(named, termText(f))
	}
	list := strings.Join(named, ", ")
	if more := len(foreign) - len(named); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Errorf("%w: %s %s: %w: it holds %s, and no bus: a bus is made only in a new or empty directory "+
		"(give one, e.g. a subdirectory); nothing was changed", errUsage, "--dir", termText(dir), errNotDataDir, list)
}

// filesNoBusMakes lists the entries of dir, and of its wal/ and
// checkpoints/ (as wal/NAME), whose names no bus and no crash of one
// leaves there (what a fresh filesystem or mount holds, mountMetadata,
// is none of them, nor a node's marker or term file); node reports a
// replication node's marker or term file there, which a caller about to
// hand DIR to the node accepts whatever else DIR holds (the node
// decides). err: dir cannot be listed.
func filesNoBusMakes(dir string) (foreign []string, node bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case mountMetadata(e):
			// A filesystem's or a mount's own entry (lost+found,
			// a snapshot or trash directory): nobody's data.
		case slices.Contains(replicate.NodeFiles[:], name):
			// Not another program's, but no reason to stop looking
			// either: beside files no bus makes, a marker does not make
			// the directory a bus's (it did until 2026-12-07: an empty
			// LOCK, a marker and a user's files were "a bus that held
			// nothing").
			node = true
		case slices.Contains(replicate.NodeFiles[:], strings.TrimSuffix(name, ".tmp")):
			// A node's marker or term file being written when it
			// crashed: the node's, though not yet there.
		case name == "LOCK" && e.Type().IsRegular() && emptyEntry(e):
			// A bus's lock file, which it never writes to: one
			// holding bytes (a pid, another program's lock state) is
			// another program's (TestLockWithContentIsNoBus).
		case (name == "wal" || name == "checkpoints") && (e.IsDir() || e.Type()&os.ModeSymlink != 0 && linksToDir(filepath.Join(dir, name))):
			// A symbolic link too: an operator puts the log on a disk
			// of its own so (docs/operations.md), before the first Open
			// as well; it was "another program's file".
			foreign = append(foreign, foreignBusFiles(dir, name)...)
		default:
			foreign = append(foreign, name)
		}
	}
	return foreign, node, nil
}

// emptyEntry reports whether the entry e holds no byte (false when it
// cannot be told).
func emptyEntry(e fs.DirEntry) bool {
	info, err := e.Info()
	return err == nil && info.Size() == 0
}

// mountMetadata reports whether e is an entry that a filesystem, a file
// server or a desktop makes in the root of a fresh filesystem or mount,
// holding no program's data: ext4's lost+found; the read-only snapshot
// directories of NetApp and other NFS servers (.snapshot), snapper on
// btrfs (.snapshots) and ZFS with snapdir=visible (.zfs); the trash a
// desktop keeps on a removable or mounted disk (.Trash, .Trash-UID,
// .Trashes); and macOS's indexes and Finder file (.Spotlight-V100,
// .fseventsd, .TemporaryItems, .DocumentRevisions-V100, .DS_Store). Each
// must be of its kind (a directory; .DS_Store a regular file): a file
// named .snapshot is another program's. Any other name, dotfile or not,
// is someone's data: a directory holding only .bashrc is a home directory.
// A mount point holding only .snapshot was refused as another program's
// directory until 2026-12-07.
func mountMetadata(e fs.DirEntry) bool {
	name := e.Name()
	if name == ".DS_Store" {
		return e.Type().IsRegular()
	}
	if !e.IsDir() {
		return false
	}
	switch name {
	case "lost+found", ".snapshot", ".snapshots", ".zfs", ".Trash", ".Trashes",
		".Spotlight-V100", ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100":
		return true
	}
	// .Trash-UID: the freedesktop.org trash of user UID on a disk that
	// is not the home directory's.
	uid, ok := strings.CutPrefix(name, ".Trash-")
	return ok && uid != "" && strings.Trim(uid, "0123456789") == ""
}

// linksToDir reports whether the symbolic link path leads to a directory,
// or to nothing (a disk not mounted: Open says the log is out of reach).
func linksToDir(path string) bool {
	st, err := os.Stat(path)
	return errors.Is(err, os.ErrNotExist) || err == nil && st.IsDir()
}

// foreignBusFiles lists the entries of DIR/sub (wal or checkpoints) that
// no bus makes there, as sub/NAME: names that begin with a segment's
// (in wal/) or a checkpoint's (in checkpoints/) name, a checkpoint's
// temporary names (checkpoint.IsTempName, the .alt one included), and
// log-mode, are a bus's, whole or left by a crash; a fresh filesystem's
// own entries (mountMetadata) are nobody's.
func foreignBusFiles(dir, sub string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		return nil
	}
	segLen := len(tlog.SegmentName(1))
	ckLen := len(checkpoint.FileName(1))
	var foreign []string
	for _, e := range entries {
		n := e.Name()
		ours := false
		if sub == "wal" {
			_, ours = tlog.ParseSegmentName(n[:min(len(n), segLen)])
			// The log's newest-segment file (and its temporary while
			// it is replaced), which a log emptied by DisableLog keeps
			// beside no segment (TestNewestSegmentFileIsTheLogs).
			ours = ours || strings.TrimSuffix(n, ".tmp") == tlog.NewestFileName
			// The LSNs a failed Repair gave up (and its temporary),
			// until an Open reports them (TestRepairLostFileIsTheLogs).
			ours = ours || strings.TrimSuffix(n, ".tmp") == tlog.RepairLostFileName
		} else {
			_, ours = checkpoint.ParseName(n[:min(len(n), ckLen)])
			ours = ours || strings.HasPrefix(n, tlog.ModeFileName) || checkpoint.IsTempName(n)
		}
		// A node's set-aside mark, in wal/ or checkpoints/ until the
		// node's next start once a crash left it; it made such a bus
		// "another program's" until 2026-12-07
		// (TestSetAsideMarkIsNodesFile).
		ours = ours || n == replicate.SetAsideMarkFile
		// wal/ or checkpoints/ may be the root of a disk of its own
		// (a symbolic link to it, or a mount): what a fresh
		// filesystem holds there is nobody's data, as in DIR (a
		// wal/lost+found was "another program's file" until
		// 2026-12-07: TestWritingCommandsAcceptLogOnFreshDisk).
		if !ours && !mountMetadata(e) {
			foreign = append(foreign, sub+"/"+n)
		}
	}
	return foreign
}

// lostCommits says which commits recovery reported lost
// (LogRecovery.LostFirstLSN and LostLastLSN), or "" when none.
func lostCommits(r mmsb.LogRecovery) string {
	switch {
	case r.LostFirstLSN == 0:
		return ""
	case r.LostLastLSN == mmsb.LostLSNUnknown:
		return fmt.Sprintf("recovery reports the commits from LSN %d on lost (how many, possibly none, is not known): a removed or damaged log was accepted (Options.Repair or DisableLog)", r.LostFirstLSN)
	default:
		return fmt.Sprintf("recovery reports the commits of LSNs %d to %d lost: a damaged log was accepted (Options.Repair)", r.LostFirstLSN, r.LostLastLSN)
	}
}

// errBusFilesLost: DIR holds what only a bus leaves (its LOCK file, a
// segment or checkpoint under a changed name) but none of the files a bus
// reads: a damaged bus, not another program's directory.
var errBusFilesLost = errors.New("the bus's files are lost")

// heldNothing reports whether dir, in which requireBusFiles found no file
// a bus reads and busTraces none that one leaves, holds a LOCK file
// (exactly so named: a Prometheus directory has a "lock"; regular and
// empty, as a bus leaves it: one holding a pid is another program's)
// beside nothing else that no bus makes (onlyBusFiles, which judges the
// LOCK so too): a bus that held nothing. A first
// Open that stopped between taking its lock and writing its first segment
// leaves that, and so does the way out of a bus whose files were lost
// that the refusal names (remove checkpoints/log-mode: the directory then
// opens as a new, empty bus). Open makes it a new bus, and check,
// inspect, graph and checkpoint accept it as one; they refused it as "a
// bus ran there and its files were lost or renamed (restore them from a
// backup)" until 2026-12-07, so that the way out worked for Open alone
// (TestLostFilesWayOut). A bus written before log-mode existed whose
// wal/ was emptied before its first checkpoint leaves the same files:
// nothing tells it apart, and Open opens it empty too.
func heldNothing(dir string) bool {
	st, err := os.Lstat(filepath.Join(dir, "LOCK"))
	return err == nil && st.Mode().IsRegular() && onlyBusFiles(dir)
}

// busTraces lists (at most a few) files in dir that only a bus leaves
// although requireBusFiles found none it reads: a name in wal/ that
// starts with a segment's name (a removal's .log.del leftover, a renamed
// 00000000000000000001.log.bak) and one in checkpoints/ that starts with
// a checkpoint's name (a .tmp a crash left, a renamed one) or is its second
// temporary name (checkpoint-<LSN>.alt.ckpt.tmp). A LOCK alone
// is none (heldNothing).
func busTraces(dir string) []string {
	const most = 3
	var traces []string
	segLen := len(tlog.SegmentName(1))
	ckLen := len(checkpoint.FileName(1))
	for _, sub := range []struct {
		name string
		ours func(string) bool
	}{
		{"wal", func(n string) bool {
			_, ok := tlog.ParseSegmentName(n[:min(len(n), segLen)])
			return ok
		}},
		{"checkpoints", func(n string) bool {
			// The second temporary name too (checkpoint-<LSN>.alt.ckpt.tmp,
			// written when the first holds a directory), which does not
			// start with a checkpoint's name: a checkpoint interrupted
			// under it was "another program's" file, where one under the
			// first name was a trace of a bus (TestAltCheckpointTempIsBusFile).
			_, ok := checkpoint.ParseName(n[:min(len(n), ckLen)])
			return ok || checkpoint.IsTempName(n)
		}},
	} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub.name))
		for _, e := range entries {
			if len(traces) < most && sub.ours(e.Name()) {
				traces = append(traces, termText(filepath.Join(dir, sub.name, e.Name())))
			}
		}
	}
	return traces
}

// onlyBusFiles reports whether dir (with its wal/ and checkpoints/)
// holds only names a bus, a crash of one or a replication node leaves. A
// node's marker counts only beside a bus's own files: beside another
// program's it makes no bus of the directory.
func onlyBusFiles(dir string) bool {
	foreign, _, err := filesNoBusMakes(dir)
	return err == nil && len(foreign) == 0
}

// checkpointLSNs lists the LSNs of the final checkpoint files in dir,
// ascending (none when dir cannot be read).
func checkpointLSNs(dir string) []uint64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var lsns []uint64
	for _, e := range entries {
		if lsn, ok := checkpoint.ParseName(e.Name()); ok {
			lsns = append(lsns, uint64(lsn))
		}
	}
	slices.Sort(lsns)
	return lsns
}
