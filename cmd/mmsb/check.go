package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/vfs"
)

// checkProblem is one finding of `mmsb check`.
type checkProblem struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"` // -1 when the finding is not at one place in a file
	Reason string `json:"reason"`
	// corrupt: File and Offset are those of a corruption error in the
	// chain (problemFromError), the damage a later step met again.
	corrupt bool
}

// checkDamage is one damaged place, as check's steps 1 and 2 report it:
// the file and the offset (-1: the file as a whole).
type checkDamage struct {
	file   string
	offset int64
}

// checkSegment is one log segment as check saw it.
type checkSegment struct {
	File     string `json:"file"`
	Bytes    int64  `json:"bytes"`
	Records  int    `json:"records"`
	FirstLSN uint64 `json:"first_lsn"`
	LastLSN  uint64 `json:"last_lsn"`
}

// checkCheckpoint is one checkpoint file as check saw it.
type checkCheckpoint struct {
	File  string `json:"file"`
	LSN   uint64 `json:"lsn"`
	Bytes int64  `json:"bytes"`
	OK    bool   `json:"ok"`
}

// checkReplay is the outcome of replaying the directory.
type checkReplay struct {
	From      string `json:"from"` // "empty" (LSN 1), "oldest-checkpoint", or "newest-checkpoint" (--no-log: no log to replay; or a log restarted after it: logRestartedAt)
	LSN       uint64 `json:"lsn"`
	StateHash string `json:"state_hash"`
	Pages     int    `json:"pages"`
	Edges     int    `json:"edges"`
	Bindings  int    `json:"bindings"`
	// RecoveryLSN and RecoveryHash come from a second replay the way Open
	// recovers (newest checkpoint plus the log tail); it must agree.
	RecoveryLSN  uint64 `json:"recovery_lsn"`
	RecoveryHash string `json:"recovery_hash"`
}

// checkReport is what `mmsb check --json` prints.
type checkReport struct {
	Dir         string            `json:"dir"`
	OK          bool              `json:"ok"`
	Segments    []checkSegment    `json:"segments"`
	Checkpoints []checkCheckpoint `json:"checkpoints"`
	Replay      *checkReplay      `json:"replay,omitempty"`
	Problems    []checkProblem    `json:"problems"`
	// Warnings are what check passes over as Open does, naming the
	// path: a name under a checkpoint's pattern that holds no checkpoint
	// file (a directory, a named pipe). Not problems: the check passes.
	Warnings []checkProblem `json:"warnings,omitempty"`
	// SetAside lists the directories a replication node set aside beside
	// DIR (DIR.diverged-<unix ns>), oldest first: not a problem of DIR,
	// but nothing removes them (docs/replication.md).
	SetAside []string `json:"set_aside,omitempty"`
}

func (a *app) checkCmd() *cobra.Command {
	var jsonOut, noLog bool
	cmd := &cobra.Command{
		Use:   "check DIR",
		Short: "Verify every file of a data directory without modifying it",
		Long: `check verifies an MMSB data directory and reports every problem it finds,
with the file, the byte offset and the reason, without modifying anything and
without taking the write lock:

  1. every log segment in DIR/wal: header, framing, CRC32C of every record,
     LSN contiguity within and across segments (a torn tail is reported too:
     the next Open would truncate it);
  2. every checkpoint in DIR/checkpoints: header, every frame, the trailer
     and whole-file checksum;
  3. a replay of the whole history (from LSN 1 when the log still holds it,
     else from the oldest checkpoint) proving that every logged operation
     applies, and a second replay the way recovery does it (newest
     checkpoint plus the log tail) that must reach the same state hash;
  4. the offline validators: integrity (every operation checked against the
     state at its LSN: orphan deltas, epochs advancing by one, contiguous
     LSNs), graph (acyclic; every edge and binding resolves) and invariants
     (page sizes, no NaN/Inf in pages declared f64).

Derived pages bound to functions this binary does not know are accepted
(their bytes are logged; only recomputation needs the function).

A DIR written by a bus opened without a log (Options.DisableLog) has no log
to lead from one checkpoint to the next, which reads as committed operations
missing; --no-log says so: its wal/ must hold no segment, the state checked
is the newest checkpoint's (step 3 replays only the way recovery does), and
integrity reports not compared.

Exit status 1 if any problem was found.`,
		Example: `  mmsb check ./data
  mmsb check --json ./data | jq '.problems[]'`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runCheck(cmd.Context(), args[0], jsonOut, noLog)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object (problems included) instead of text")
	cmd.Flags().BoolVar(&noLog, "no-log", false, "DIR was written by a bus without a log (Options.DisableLog): check its checkpoints' state, replay nothing between them")
	return cmd
}

// checkFS is the filesystem check reads DIR through: the operating
// system's (a variable so that tests can count what check reads).
var checkFS vfs.FS = vfs.Default

func (a *app) runCheck(ctx context.Context, dir string, jsonOut, noLog bool) error {
	// An interrupted set-aside beside DIR (a replication node's, which
	// its next start in DIR finishes or undoes) is said first, and also
	// when DIR is refused below: with the bus moved into it, DIR may hold
	// none of its files. Read only, as all of check; best effort (a
	// parent that cannot be listed is no problem of DIR). check said
	// nothing of it until 2026-12-07.
	asides := setAsideWarnings(dir)
	if err := requireDataDir(dir); err != nil {
		printWarnings(a.stderr, asides)
		return err
	}
	if err := requireBusFiles(dir, ""); err != nil {
		printWarnings(a.stderr, asides)
		return err
	}
	fs := checkFS
	if m, err := tlog.ReadMode(fs, filepath.Join(dir, "checkpoints")); err == nil && m == tlog.ModeNoLog {
		// Written by a bus without a log since checkpoints/log-mode
		// exists: checked as --no-log says (before, the flag was needed,
		// as an empty wal/ also looked like a removed log). Segments
		// beside it are what a crash left in an Open without a log
		// between recording "no log" and removing them: they are checked
		// as a log (refused as "written with a log", with --no-log named
		// though not given).
		if has, err := tlog.HasSegment(fs, filepath.Join(dir, "wal")); err == nil && !has {
			noLog = true
		}
	}
	// A bus whose files were lost (no checkpoint, log-mode "log", no
	// segment) is refused by step 1 (requireLogDir) in one problem. The
	// replays and the validators can only repeat it (each replay and
	// the validators' rebuild refuse the directory in Open's words, and
	// integrity reports it again): five more PROBLEM lines for one loss.
	// They are skipped; steps 1 and 2 still run, for what else is wrong
	// with the files (TestCheckLostFilesReportedOnce). So is a log
	// removed beside a checkpoint (wal/ gone, or its segments where the
	// log-mode file says a log continues the checkpoints): five or six
	// PROBLEM lines for it until 2026-12-07, and none of them from step 1
	// when only the segments went (TestCheckRemovedLogReportedOnce).
	// So is a log whose newest segments were removed (wal/newest-segment
	// names one past them): both replays said it, in Open's words, and
	// the validators' rebuilds would again
	// (TestCheckReportsMissingNewestSegment).
	newestGone := ""
	if !noLog {
		newestGone = newestMissingReason(fs, dir)
	}
	lost := !noLog && (filesLost(dir) || logRemoved(dir) != tlog.NotRemoved || newestGone != "")
	rep := &checkReport{Dir: dir, Segments: []checkSegment{}, Checkpoints: []checkCheckpoint{}, Problems: []checkProblem{}}
	// Problems stream out as they are found, so that a long check of a
	// damaged directory shows its findings at once.
	// said holds each damaged place reported so far. A later step that
	// fails on it (a replay, a validator's rebuild) repeats it in its
	// own words: one flipped byte in the only checkpoint of a bus gave
	// six PROBLEM lines, the checkpoint's, both replays', the integrity,
	// graph and invariants validators', and one in the log five
	// (TestCheckSaysEachDamageOnce). Such a repeat is dropped by
	// reportNew; a problem of another place or cause is reported.
	said := map[checkDamage]bool{}
	report := func(p checkProblem) {
		if ctx.Err() != nil {
			// Interrupted: a replay or validator that stopped says so,
			// which is no problem of the directory.
			return
		}
		said[checkDamage{p.File, p.Offset}] = true
		rep.Problems = append(rep.Problems, p)
		if !jsonOut {
			fmt.Fprintf(a.stdout, "PROBLEM %s\n", formatProblem(p))
		}
	}
	reportNew := func(p checkProblem) {
		if p.corrupt && said[checkDamage{p.File, p.Offset}] {
			return
		}
		report(p)
	}

	// 1. The log.
	walDir := filepath.Join(dir, "wal")
	bar := a.progress(-1, "checking log", "records")
	segs, err := tlog.Check(fs, walDir, func(*tlog.Record) error { bar.add(1); return nil }, func(p tlog.Problem) {
		report(checkProblem{File: p.File, Offset: p.Offset, Reason: p.Reason})
	})
	bar.finish()
	// A wal that is a file (not a directory) failed tlog.Check, then
	// requireLogDir, both replays and integrity twice: six PROBLEM lines
	// for one cause until 2026-12-07. It is said once, with what to do,
	// and the steps that can only repeat it are skipped
	// (TestCheckWalFileReportedOnce).
	walFile := false
	if st, serr := os.Stat(walDir); serr == nil && !st.IsDir() && !noLog {
		walFile = true
		report(checkProblem{File: walDir, Offset: -1, Reason: walNotDirError(dir).Error()})
		lost = true
	} else if err != nil && !vfs.IsNotExist(err) {
		report(problemFromError(walDir, fmt.Errorf("reading the log: %w", err)))
	}
	if walFile {
		// Said above.
	} else if noLog && len(segs) > 0 {
		// A log's problems would go unreported as "not compared".
		report(checkProblem{File: walDir, Offset: -1, Reason: fmt.Sprintf(
			"--no-log, but %s holds %s: the directory was written with a log (check it without --no-log)", walDir, counted(len(segs), "log segment", "log segments"))})
	} else if err := requireLogDir(dir); err != nil && !noLog {
		// Read as an empty log, this said OK: the replays agree with
		// what the checkpoints hold, and nothing else knows how far the
		// log went.
		reason := err.Error()
		if !writtenWithLog(dir) {
			// Its log-mode file, when there is one, says a log went on.
			reason += " (written by a bus without a log, it has none: check it with --no-log)"
		}
		report(checkProblem{File: walDir, Offset: -1, Reason: reason})
	} else if !noLog && logRemoved(dir) == tlog.SegmentsRemoved {
		report(checkProblem{File: walDir, Offset: -1, Reason: segmentsRemovedReason(dir)})
	} else if newestGone != "" {
		report(checkProblem{File: filepath.Join(walDir, tlog.NewestFileName), Offset: -1, Reason: newestGone})
	} else {
		// Not refused here after all (a writer made a segment since):
		// nothing was reported, so nothing below is skipped.
		lost = false
	}
	// A LOCK that is not a regular file (a directory, a fifo): every
	// writer's Open fails on it ("is a directory"), and check said OK
	// until 2026-12-07 (TestCheckReportsLockNotFile). A LOCK not there
	// is none of its business: Open makes it.
	if lock := filepath.Join(dir, "LOCK"); true {
		if st, err := os.Stat(lock); err == nil && !st.Mode().IsRegular() {
			report(checkProblem{File: lock, Offset: -1, Reason: fmt.Sprintf(
				"%s is not a regular file (%s): no writer can open the bus (remove it while no writer runs; the next Open makes it again)", lock, st.Mode().Type())})
		}
	}
	for _, s := range segs {
		rep.Segments = append(rep.Segments, checkSegment{File: s.File, Bytes: s.Bytes, Records: s.Records,
			FirstLSN: uint64(s.FirstLSN), LastLSN: uint64(s.LastLSN)})
	}

	rep.Warnings = append(rep.Warnings, asides...)
	if !jsonOut {
		printWarnings(a.stdout, asides)
	}
	if mark := filepath.Join(dir, "checkpoints", lossPendingFile); !lost && fileExists(mark) {
		// An Open with Repair or DisableLog accepted a removed log and
		// failed before its caller saw the loss: what it made since (an
		// empty wal/, a segment, "no log") no longer shows the removal,
		// and check said nothing of it until 2026-12-07
		// (TestCheckReportsPendingLoss).
		w := checkProblem{File: mark, Offset: -1, Reason: lossPendingWarning}
		rep.Warnings = append(rep.Warnings, w)
		if !jsonOut {
			fmt.Fprintf(a.stdout, "WARNING %s: %s\n", w.File, w.Reason)
		}
	}

	// A Repair that cut the log and failed before reporting it
	// (wal/repair-lost): the files are whole, and check passed without a
	// word of the commits it gave up. A warning, as Open reports the loss
	// and goes on (TestCheckWarnsOfRepairLost).
	var newestCkpt, logLast mmsb.LSN
	for _, s := range segs {
		logLast = max(logLast, s.LastLSN)
	}
	if cks, _, err := checkpoint.ListFiles(fs, filepath.Join(dir, "checkpoints")); err == nil {
		for _, c := range cks {
			newestCkpt = max(newestCkpt, c.LSN)
		}
	}
	if first, last, err := tlog.PendingRepairLoss(fs, walDir, newestCkpt, logLast); err == nil && first != 0 {
		w := checkProblem{File: filepath.Join(walDir, tlog.RepairLostFileName), Offset: -1, Reason: tlog.RepairLostWarning(first, last)}
		rep.Warnings = append(rep.Warnings, w)
		if !jsonOut {
			fmt.Fprintf(a.stdout, "WARNING %s: %s\n", w.File, w.Reason)
		}
	}

	if onlyHeldNothing(dir) {
		// Accepted as Open accepts it (a new, empty bus), with what it
		// cannot tell apart said once: a bus written before log-mode
		// existed whose wal/ was emptied leaves the same files.
		w := checkProblem{File: dir, Offset: -1, Reason: heldNothingWarning(dir)}
		rep.Warnings = append(rep.Warnings, w)
		if !jsonOut {
			fmt.Fprintf(a.stdout, "WARNING %s: %s\n", w.File, w.Reason)
		}
	}

	// 2. Checkpoints.
	ckDir := filepath.Join(dir, "checkpoints")
	// The listing recovery uses: a name that holds no checkpoint file (a
	// directory, a named pipe) is passed over with a warning, as Open
	// passes over it (Recovery().SkippedCheckpoint), in the same words.
	// Before, check reported it as a checkpoint that does not load, so a
	// directory Open recovered from failed its check
	// (TestCheckPassesOverNonFileCheckpointName). A damaged checkpoint
	// file, an unreadable one and a dangling link stay problems.
	ckpts, notFiles, err := checkpoint.ListFiles(fs, ckDir)
	if err != nil {
		report(problemFromError(ckDir, err))
	}
	for _, c := range notFiles {
		rep.Warnings = append(rep.Warnings, checkProblem{File: c.Path, Offset: -1, Reason: c.PassedOver()})
		if !jsonOut {
			fmt.Fprintf(a.stdout, "WARNING %s: %s\n", c.Path, c.PassedOver())
		}
	}
	reportStrayCheckpoints(fs, ckDir, report)
	// The checkpoints reported as not loading: the integrity validator's
	// "checkpoint does not load" of one says it again.
	badCheckpoint := map[string]bool{}
	for _, c := range ckpts {
		cc := checkCheckpoint{File: c.Path, LSN: uint64(c.LSN), Bytes: c.Size, OK: true}
		err := checkpoint.Verify(fs, c.Path)
		if err == nil {
			// Whole frames holding what the loader refuses (a page
			// written after the checkpoint's LSN, an edge to a page it
			// does not hold): recovery passes it over as it passes over
			// a damaged one.
			err = loadCheckpoint(ctx, fs, dir, c, noLog)
		}
		if err != nil && removedSinceListed(fs, ckDir, c.Path, err) {
			// A running writer's checkpoint removed the older ones
			// (two are kept) after the listing: no problem of the
			// directory, and nothing left to count.
			continue
		}
		if err != nil {
			cc.OK = false
			report(problemFromError(c.Path, err))
			badCheckpoint[c.Path] = true
		}
		rep.Checkpoints = append(rep.Checkpoints, cc)
	}

	// 3. Replays: the whole history, and the recovery path.
	if err := ctx.Err(); err != nil {
		return checkInterrupted(dir, len(rep.Problems), err)
	}
	var recovered *mmsb.Bus
	if !lost {
		warn := func(w checkProblem) {
			if ctx.Err() != nil {
				return
			}
			rep.Warnings = append(rep.Warnings, w)
			if !jsonOut {
				fmt.Fprintf(a.stdout, "WARNING %s: %s\n", w.File, w.Reason)
			}
		}
		rep.Replay, recovered = a.checkReplays(ctx, fs, dir, len(ckpts) > 0, noLog, reportNew, warn)
	}
	if recovered != nil {
		defer recovered.Close() //nolint:errcheck // a detached replay: nothing to lose
	}

	checkHook("validators")
	// 4. The offline validators that add to the above: integrity (every
	// operation against the state at its LSN: orphans, epochs, LSNs),
	// graph (acyclic, everything resolves) and invariants (sizes, NaN/Inf).
	validators := []string{"integrity", "graph", "invariants"}
	if lost {
		validators = nil
	}
	for _, name := range validators {
		if name != "integrity" && recovered == nil {
			// The recovery replay failed, and said why: graph and
			// invariants, which check the state it reaches, would
			// rebuild it offline and fail the same way, twice more.
			continue
		}
		fn, _ := validate.Lookup(name)
		target := validate.Offline(fs, dir, nil)
		target.NoLog = noLog
		if name != "integrity" && recovered != nil {
			// Offline, graph and invariants each rebuilt the state the
			// recovery replay above holds (the same mmsb.Replay of dir
			// to its end, with the same options): two more whole
			// states, read and discarded. They only read it. Integrity
			// scans the log itself and stays offline (given an engine,
			// it would also compare the log with that engine's state).
			target = validate.Live(recovered)
		}
		// The integrity validator reads the log and the checkpoints
		// itself, at other moments than the listing it started from: a
		// writer running beside check that rotated, checkpointed or
		// trimmed meanwhile made it report what it saw half-changed (a
		// checkpoint past the log it read, epochs behind a checkpoint).
		// Its problems are held until it ends, and it runs again, as the
		// replays do (replayBesideWriter), when it found some and the
		// directory's files changed under it.
		for attempt := 1; ; attempt++ {
			before := dirFileNames(fs, dir)
			var found []checkProblem
			_, err := fn(ctx, target, validate.Options{OnProblem: func(p validate.Problem) {
				switch p.Kind {
				case validate.KindFraming:
					return // already reported by the log check above
				case validate.KindUnknownFunc:
					return // custom functions live in the program that bound them, not in this binary
				case validate.KindFailed:
					if badCheckpoint[p.Where] {
						return // "checkpoint does not load": step 2 said why
					}
				}
				if checkpointGone(fs, ckDir, p.Where) {
					// A running writer removed it after the validator
					// listed it (as in step 2): "checkpoint does not
					// load: ... no such file or directory".
					return
				}
				found = append(found, checkProblem{File: p.Where, Offset: -1, Reason: fmt.Sprintf("%s: %s: %s", name, p.Kind, p.What)})
			}})
			if err != nil && ctx.Err() == nil {
				found = append(found, problemFromError(dir, fmt.Errorf("%s validator: %w", name, err)))
			}
			if len(found) == 0 || ctx.Err() != nil || attempt == replayAttempts || dirFileNames(fs, dir) == before {
				for _, p := range found {
					reportNew(p)
				}
				break
			}
		}
	}

	if err := ctx.Err(); err != nil {
		return checkInterrupted(dir, len(rep.Problems), err)
	}
	rep.OK = len(rep.Problems) == 0
	// Best effort: a parent that cannot be listed is no problem of DIR.
	rep.SetAside, _ = replicate.SetAsideDirs(dir)
	if jsonOut {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		a.printCheckSummary(rep)
	}
	if !rep.OK {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%s found in %s", counted(len(rep.Problems), "problem", "problems"), dir)}
	}
	return nil
}

// loadCheckpoint loads the checkpoint c of dir the way recovery does and
// returns the loader's reason for refusing it, or nil. The loader is the
// bus's own (no second one here): a replay to c's LSN over a view of dir
// in which the checkpoint directory holds c alone and the log is absent,
// so that the replay can neither fall back to another checkpoint nor reach
// the LSN through the log. Call it only for a checkpoint checkpoint.Verify
// passed: through the view, the checkpoint package no longer sees the
// operating system's filesystem and so does not refuse a non-regular file.
func loadCheckpoint(ctx context.Context, fs vfs.FS, dir string, c checkpoint.Info, noLog bool) error {
	view := &oneCheckpointFS{FS: fs, walDir: fs.Join(dir, "wal"), ckDir: fs.Join(dir, "checkpoints"), name: filepath.Base(c.Path)}
	// Repair: the view hides the log, so the refusal of a removed log
	// (no wal/ beside the checkpoints) is no verdict on c; with it, a
	// directory whose wal/ was removed counted its whole checkpoints
	// invalid ("0 of 2 valid"), though Repair opens at the newest.
	// Replay's Repair accepts only that refusal.
	bus, err := mmsb.Replay(ctx, dir, mmsb.ReplayTarget{ToLSN: mmsb.LSN(c.LSN)}, &mmsb.Options{FS: view, DisableLog: noLog, Repair: true})
	if err != nil {
		// The replay's error says that no checkpoint loaded and the
		// log is missing; the loader's error in it is the reason, and
		// names the file.
		var ce *corruption.Error
		if errors.As(err, &ce) {
			return ce
		}
		return fmt.Errorf("load checkpoint %s: %w", c.Path, err)
	}
	_ = bus.Close() // a detached replay: nothing to lose
	return nil
}

// removedSinceListed reports whether err, met reading the checkpoint at
// path, is its absence and the checkpoint directory ckDir no longer lists
// it: a writer running beside check removed it (its next checkpoint
// removes the oldest of the two it keeps) after check listed it. It was
// reported as a problem ("no such file or directory"), so that `mmsb
// check` of a healthy directory whose writer checkpointed meanwhile
// failed. A dangling symbolic link is still listed and stays a problem.
func removedSinceListed(fs vfs.FS, ckDir, path string, err error) bool {
	if !vfs.IsNotExist(err) {
		return false
	}
	names, lerr := fs.List(ckDir)
	return lerr == nil && !slices.Contains(names, filepath.Base(path))
}

// checkpointGone reports whether path names a checkpoint in ckDir that is
// no longer there: a problem a validator found with it concerns a file a
// running writer removed, which recovery will not read.
func checkpointGone(fs vfs.FS, ckDir, path string) bool {
	if filepath.Dir(path) != filepath.Clean(ckDir) {
		return false
	}
	_, ok := checkpoint.ParseName(filepath.Base(path))
	return ok && !fs.Exists(path) && removedSinceListed(fs, ckDir, path, os.ErrNotExist)
}

// oneCheckpointFS is fs as loadCheckpoint's replay sees it: the checkpoint
// directory lists one name, and the log directory does not exist. Its
// checkpoints/log-mode is hidden too: saying that a log continues the
// checkpoint, beside a log that lists nothing, it made the replay refuse
// the directory as one whose log segments were removed.
type oneCheckpointFS struct {
	vfs.FS
	walDir, ckDir, name string
}

func (v *oneCheckpointFS) Open(name string) (vfs.File, error) {
	if name == v.Join(v.ckDir, tlog.ModeFileName) {
		return nil, fmt.Errorf("open %s: hidden while loading checkpoint %s alone: %w", name, v.name, os.ErrNotExist)
	}
	return v.FS.Open(name)
}

func (v *oneCheckpointFS) List(dir string) ([]string, error) {
	switch dir {
	case v.walDir:
		return nil, fmt.Errorf("list %s: hidden while loading checkpoint %s alone: %w", dir, v.name, os.ErrNotExist)
	case v.ckDir:
		return []string{v.name}, nil
	}
	return v.FS.List(dir)
}

// reportStrayCheckpoints reports each file in the checkpoint directory
// that looks like a checkpoint (checkpoint-... or ....ckpt) but is named
// neither as a checkpoint (checkpoint-<20-digit LSN>.ckpt) nor as one
// being written (....ckpt.tmp): recovery and every command ignore it, so
// a checkpoint restored or copied under such a name (a second copy of an
// LSN, too few digits) silently takes no part. A directory check.go cannot
// list is reported by the checkpoint listing already.
func reportStrayCheckpoints(fs vfs.FS, ckDir string, report func(checkProblem)) {
	names, err := fs.List(ckDir)
	if err != nil {
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "checkpoint-") && !strings.HasSuffix(name, ".ckpt") {
			continue
		}
		if _, ok := checkpoint.ParseName(name); ok || checkpoint.IsTempName(name) {
			continue
		}
		report(checkProblem{File: fs.Join(ckDir, name), Offset: -1,
			Reason: "not a checkpoint file name (want checkpoint-<20-digit LSN>.ckpt): recovery ignores this file"})
	}
}

// checkInterrupted is the error of a check stopped by SIGINT/SIGTERM
// before it finished: no verdict on dir, and no summary or JSON.
func checkInterrupted(dir string, found int, err error) error {
	return fmt.Errorf("check of %s interrupted before it finished (%s found until then): %w", dir, counted(found, "problem", "problems"), err)
}

// checkReplays replays dir from as far back as the files allow and again
// the way recovery does, reporting failures and disagreements as problems.
// It returns the state the recovery replay reached, for the validators
// that read it, which the caller closes (nil when that replay failed).
func (a *app) checkReplays(ctx context.Context, fs vfs.FS, dir string, haveCheckpoints, noLog bool, report, warn func(checkProblem)) (*checkReplay, *mmsb.Bus) {
	if noLog {
		// No log leads from one checkpoint to the next (replayed from
		// the oldest, the directory read as operations missing): the
		// state is the newest checkpoint's, replayed as recovery does.
		out := &checkReplay{From: "newest-checkpoint"}
		rec, err := replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{}, &mmsb.Options{DisableLog: true})
		if err != nil {
			report(problemFromError(dir, fmt.Errorf("replay of the newest checkpoint: %w", err)))
			return out, nil
		}
		st := rec.Stats()
		out.LSN, out.RecoveryLSN = uint64(rec.LastLSN()), uint64(rec.LastLSN())
		if out.StateHash, err = stateHash(rec); err != nil {
			report(problemFromError(dir, fmt.Errorf("hash the replayed state: %w", err)))
		}
		out.RecoveryHash = out.StateHash
		out.Pages, out.Edges, out.Bindings = st.Pages, st.Edges, st.Bindings
		return out, rec
	}
	out := &checkReplay{From: "empty"}
	full, err := replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{FromEmpty: true}, nil)
	if errors.Is(err, mmsb.ErrLogTruncated) {
		// The log does not start at LSN 1: segments before the first
		// checkpoint were removed (or the log is empty). The oldest
		// checkpoint is the earliest state the files can prove.
		if haveCheckpoints {
			out.From = "oldest-checkpoint"
		}
		full, err = replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{FromOldestCheckpoint: true}, nil)
		if at, ok := logRestartedAt(fs, dir); err != nil && haveCheckpoints && ok {
			// The log starts right after a checkpoint newer than the
			// oldest: it was restarted there (an Open with a log after
			// a bus without one, Repair's restart, replay --out), and
			// nothing continues the older checkpoints, by design. The
			// replay from the oldest failed on every such bus ("the log
			// ends at LSN 3, before checkpoint …") until its writer took
			// two more checkpoints (TestCheckLogRestartedAfterCheckpoint).
			// The history starts at the restart: replayed from the
			// newest checkpoint, as recovery does, with a warning.
			warn(checkProblem{File: filepath.Join(dir, "wal"), Offset: -1, Reason: fmt.Sprintf(
				"the log starts at LSN %d, right after checkpoint LSN %d: it was restarted there (an Open with a log after one without, or Options.Repair), "+
					"and no log continues the older checkpoints, which only recovery from them would need; the whole history is replayed from the newest checkpoint", at+1, at)})
			out.From = "newest-checkpoint"
			full, err = replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{}, nil)
		}
	}
	if err != nil {
		report(problemFromError(dir, fmt.Errorf("replay from %s: %w", out.From, err)))
	} else {
		st := full.Stats()
		out.LSN = uint64(full.LastLSN())
		if out.StateHash, err = stateHash(full); err != nil {
			report(problemFromError(dir, fmt.Errorf("hash the replayed state: %w", err)))
		}
		out.Pages, out.Edges, out.Bindings = st.Pages, st.Edges, st.Bindings
		// Closed before the second replay, not deferred: each holds the
		// whole state (1 GiB of pages for 1M pages of 1 KiB), and only
		// the hashes are compared.
		_ = full.Close() // a detached replay: nothing written through it is lost
	}
	// The recovery path runs even when the full replay failed: it tells
	// whether the bus can still be opened. After a full replay it stops at
	// the LSN that one reached (the newest checkpoint at or before it plus
	// the log up to it): a writer running beside check commits between
	// the two replays, and the second, replayed to the log's end, reached
	// a later LSN and another hash, which was reported as a disagreement
	// on every check of a busy bus. Where nothing writes, that LSN is the
	// log's end, at or past the newest checkpoint: the same replay.
	// checkHook lets a test commit there, as such a writer does.
	checkHook("between replays")
	recTarget := mmsb.ReplayTarget{}
	if err == nil {
		recTarget.ToLSN = mmsb.LSN(out.LSN)
	}
	rec, rerr := replayBesideWriter(ctx, fs, dir, recTarget, nil)
	movedOn := false
	if rerr != nil && recTarget.ToLSN != 0 && errors.Is(rerr, mmsb.ErrLogTruncated) {
		// No checkpoint at or before that LSN is left and the log no
		// longer reaches back to it: the writer's checkpoints removed
		// them meanwhile. Recovery as Open would run it now.
		movedOn = true
		rec, rerr = replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{}, nil)
	}
	if rerr != nil {
		report(problemFromError(dir, fmt.Errorf("replay from the newest checkpoint (as recovery does): %w", rerr)))
		return out, nil
	}
	out.RecoveryLSN = uint64(rec.LastLSN())
	if out.RecoveryHash, rerr = stateHash(rec); rerr != nil {
		report(problemFromError(dir, fmt.Errorf("hash the recovered state: %w", rerr)))
		return out, rec
	}
	if movedOn && out.RecoveryLSN > out.LSN {
		// The writer went on past the full replay: two states of
		// different LSNs have nothing to agree on.
		return out, rec
	}
	if err == nil && (out.RecoveryLSN != out.LSN || out.RecoveryHash != out.StateHash) {
		report(checkProblem{File: dir, Offset: -1, Reason: fmt.Sprintf(
			"replay from %s reaches LSN %d hash %s, but recovery (newest checkpoint + log) reaches LSN %d hash %s",
			out.From, out.LSN, out.StateHash, out.RecoveryLSN, out.RecoveryHash)})
	}
	return out, rec
}

// replayAttempts bounds replayBesideWriter's attempts.
const replayAttempts = 3

// replayBesideWriter is mmsb.Replay of dir through fs, run again (up to
// replayAttempts in all) when it failed and dir's files changed
// meanwhile. A writer running beside the reading commands checkpoints
// and then removes old checkpoints and the log segments they cover: a
// replay that listed a segment or checkpoint before its removal and
// opened it after failed ("log jumps from LSN ... to ...", "no such file
// or directory"), which check reported as a problem and replay (the
// backup procedure of docs/operations.md) as a failure. A replay
// that fails on files nobody changed fails at once: damage is reported
// as before.
func replayBesideWriter(ctx context.Context, fs vfs.FS, dir string, target mmsb.ReplayTarget, opts *mmsb.Options) (*mmsb.Bus, error) {
	o := mmsb.Options{}
	if opts != nil {
		o = *opts
	}
	o.FS = fs
	for attempt := 1; ; attempt++ {
		before := dirFileNames(fs, dir)
		bus, err := mmsb.Replay(ctx, dir, target, &o)
		if err == nil || ctx.Err() != nil || attempt == replayAttempts || dirFileNames(fs, dir) == before {
			return bus, err
		}
	}
}

// replayFailed is the error of read, replay, inspect and graph when the
// replay of dir (replayBesideWriter) fails: on the directory's damage it
// points to `mmsb check DIR` for every problem, as inspect and graph did
// while read and replay gave the corruption alone
// (TestReplayFailureSaysWhatNext). A target the directory does not reach
// is no problem of the directory, and gets no pointer: one past its end
// or an epoch never reached (ErrInvalidOption), and one before the
// history it still holds (ErrLogTruncated without ErrCorruption: its
// checkpoints removed the log before them, as they do; check says OK),
// which was sent to check "for every problem" too
// (TestReplayBeforeHeldHistoryNoCheckPointer).
func replayFailed(dir string, err error) error {
	if errors.Is(err, mmsb.ErrInvalidOption) || errors.Is(err, mmsb.ErrLogTruncated) && !errors.Is(err, mmsb.ErrCorruption) {
		return fmt.Errorf("replay %s: %w", dir, err)
	}
	return fmt.Errorf("replay %s (run `mmsb check %s` for every problem): %w", dir, dir, err)
}

// dirFileNames lists the names in dir's wal/ and checkpoints/, which a
// writer changes when it rotates its log, checkpoints or trims.
func dirFileNames(fs vfs.FS, dir string) string {
	var b strings.Builder
	for _, sub := range []string{"wal", "checkpoints"} {
		names, err := fs.List(fs.Join(dir, sub))
		if err != nil {
			b.WriteString(err.Error())
		}
		slices.Sort(names)
		b.WriteString(strings.Join(names, "/"))
		b.WriteByte(0)
	}
	return b.String()
}

// setAsideWarnings gives one warning for each interrupted set-aside
// beside dir (replicate.InterruptedSetAsides): what it holds, and what a
// replication node's next start in dir does with it.
func setAsideWarnings(dir string) []checkProblem {
	parts, _ := replicate.InterruptedSetAsides(dir)
	var ws []checkProblem
	for _, p := range parts {
		var reason string
		if len(p.Holds) == 0 {
			reason = fmt.Sprintf("a replication node's set-aside of %s was interrupted before it moved anything: the bus is whole in %s; "+
				"the next start of a replication node in %s removes this directory (docs/replication.md)", dir, dir, dir)
		} else {
			reason = fmt.Sprintf("a replication node's set-aside of %s was interrupted: %s/ of its bus were moved here, the rest is in %s, and neither holds the whole bus; "+
				"the next start of a replication node in %s finishes it: it moves here the rest of the bus directories %s held when the set-aside began, "+
				"renames this directory to %s and rebuilds %s (docs/replication.md)",
				dir, strings.Join(p.Holds, "/, "), dir, dir, dir, p.Final, dir)
		}
		ws = append(ws, checkProblem{File: p.Path, Offset: -1, Reason: reason})
	}
	return ws
}

// printWarnings prints warnings as check's text output does.
func printWarnings(w io.Writer, ws []checkProblem) {
	for _, p := range ws {
		fmt.Fprintf(w, "WARNING %s: %s\n", p.File, p.Reason)
	}
}

// checkHook runs at the named stages of check (tests only): "between
// replays", and "validators" before step 4.
var checkHook = func(stage string) {}

// problemFromError turns an error into a problem, taking the file and
// offset from a corruption error in its chain when there is one.
func problemFromError(file string, err error) checkProblem {
	var ce *corruption.Error
	if errors.As(err, &ce) {
		return checkProblem{File: ce.File, Offset: ce.Offset, Reason: err.Error(), corrupt: true}
	}
	return checkProblem{File: file, Offset: -1, Reason: err.Error()}
}

func formatProblem(p checkProblem) string {
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Reason)
	}
	return fmt.Sprintf("%s offset %d: %s", p.File, p.Offset, p.Reason)
}

func (a *app) printCheckSummary(r *checkReport) {
	records := 0
	for _, s := range r.Segments {
		records += s.Records
	}
	fmt.Fprintf(a.stdout, "log:         %s, %s\n", counted(len(r.Segments), "segment", "segments"), counted(records, "record", "records"))
	okCk := 0
	for _, c := range r.Checkpoints {
		if c.OK {
			okCk++
		}
	}
	fmt.Fprintf(a.stdout, "checkpoints: %d of %d valid\n", okCk, len(r.Checkpoints))
	if r.Replay != nil && r.Replay.StateHash != "" {
		fmt.Fprintf(a.stdout, "replay:      from %s to LSN %d, %s, %s, %s, hash %s\n",
			r.Replay.From, r.Replay.LSN, counted(r.Replay.Pages, "page", "pages"), counted(r.Replay.Edges, "edge", "edges"),
			counted(r.Replay.Bindings, "binding", "bindings"), r.Replay.StateHash)
	}
	if r.Replay != nil && r.Replay.RecoveryHash != "" && r.Replay.RecoveryHash != r.Replay.StateHash {
		fmt.Fprintf(a.stdout, "recovery:    newest checkpoint + log reach LSN %d, hash %s\n", r.Replay.RecoveryLSN, r.Replay.RecoveryHash)
	}
	if r.Replay != nil && r.Replay.RecoveryHash == "" {
		// Said once, by the damage it met: what that damage stops.
		fmt.Fprintf(a.stdout, "recovery:    newest checkpoint + log do not replay: see %s above\n", inNumber(len(r.Problems), "the problem", "the problems"))
	}
	if n := len(r.SetAside); n > 0 {
		fmt.Fprintf(a.stdout, "set aside:   %s beside %s, oldest %s, newest %s: state a replication node moved out of it; nothing removes them (docs/replication.md)\n",
			counted(n, "directory", "directories"), r.Dir, r.SetAside[0], r.SetAside[n-1])
	}
	if r.OK {
		fmt.Fprintf(a.stdout, "OK: %s\n", r.Dir)
	} else {
		fmt.Fprintf(a.stdout, "FAILED: %s\n", counted(len(r.Problems), "problem", "problems"))
	}
}

// writtenWithoutLog reports whether dir's checkpoints/log-mode says "no
// log" (tlog.ModeNoLog): its checkpoints are continued by nothing.
func writtenWithoutLog(dir string) bool {
	m, err := tlog.ReadMode(vfs.Default, filepath.Join(dir, "checkpoints"))
	return err == nil && m == tlog.ModeNoLog
}

// writtenWithLog reports whether dir's checkpoints/log-mode says "log"
// (tlog.ModeLog): a log continued its checkpoints.
func writtenWithLog(dir string) bool {
	m, err := tlog.ReadMode(vfs.Default, filepath.Join(dir, "checkpoints"))
	return err == nil && m == tlog.ModeLog
}

// newestMissingReason is check's problem for a log in dir whose newest
// segments were removed (wal/newest-segment names a segment past the
// newest there, or does not decode): the Reason of tlog.CheckNewest's
// refusal, in the words of Open and mmsb.Replay (its File is
// wal/newest-segment, where check reports it); "" when the log is whole.
func newestMissingReason(fs vfs.FS, dir string) string {
	var cerr *corruption.Error
	if err := tlog.CheckNewest(fs, filepath.Join(dir, "wal")); errors.As(err, &cerr) {
		if cerr.Err != nil {
			return cerr.Reason + ": " + cerr.Err.Error()
		}
		return cerr.Reason
	}
	return ""
}

// missingLogAdvice says what to do about dir's removed wal/. Creating it
// empty accepts the loss only in a directory written before
// checkpoints/log-mode existed: where log-mode says "log", an empty wal/
// is refused as a log emptied of its segments (docs/operations.md), and
// the advice to make one led the operator to a second refusal.
func missingLogAdvice(dir string) string {
	wal := filepath.Join(dir, "wal")
	if writtenWithLog(dir) {
		return fmt.Sprintf("restore %s; an empty one is refused too, as %s says a log continues the checkpoints: "+
			"to accept the loss, open it once with Options.Repair (docs/operations.md, \"Recovery\"; no mmsb command sets it)",
			wal, filepath.Join(dir, "checkpoints", tlog.ModeFileName))
	}
	return fmt.Sprintf("restore %s, or create it empty to accept the loss", wal)
}

// holdsCheckpoint reports whether dir's checkpoints/ holds a checkpoint
// file (checkpoint.ListFiles, the listing recovery uses); one that cannot
// be listed counts as holding one, so that nothing is passed over.
func holdsCheckpoint(dir string) bool {
	files, _, err := checkpoint.ListFiles(vfs.Default, filepath.Join(dir, "checkpoints"))
	return err != nil || len(files) > 0
}

// logRestartedAt reports the LSN of the checkpoint of dir after which
// its log starts (the first segment's name is its LSN + 1) when that
// checkpoint is not the oldest: a log restarted there, which continues
// none of the older checkpoints. ok is false otherwise, or when the
// files cannot be listed.
func logRestartedAt(fs vfs.FS, dir string) (at mmsb.LSN, ok bool) {
	names, err := fs.List(filepath.Join(dir, "wal"))
	if err != nil {
		return 0, false
	}
	var first uint64
	for _, n := range names {
		if lsn, isSeg := tlog.ParseSegmentName(n); isSeg && (first == 0 || uint64(lsn) < first) {
			first = uint64(lsn)
		}
	}
	lsns := checkpointLSNs(filepath.Join(dir, "checkpoints"))
	if first < 2 || len(lsns) < 2 || lsns[0] >= first-1 || !slices.Contains(lsns, first-1) {
		return 0, false
	}
	return mmsb.LSN(first - 1), true
}

// heldNothingWarning is check's warning for a directory it accepts as a
// bus that held nothing (onlyHeldNothing): what it checked, each
// directory named as it is (missing, or holding none of a bus's files),
// what leaves such files, and what an operator who knows that a program
// committed there should look at before an Open makes it a new bus. A bus
// written before checkpoints/log-mode existed whose wal/ was emptied
// before its first checkpoint leaves the same files, and nothing in them
// tells it apart (its LOCK is empty, as every bus's; no other file is
// left): the warning said only "if it held commits, restore its files
// from a backup", not what had been checked nor where to look
// (TestHeldNothingWarningSaysWhatWasChecked).
func heldNothingWarning(dir string) string {
	wal, ck := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	walSays := wal + " is empty"
	// When wal/ last changed tells an emptied one (changed later) from a
	// first Open's (made just after LOCK, never changed since).
	when := fmt.Sprintf(", and at when %s last changed (a first Open makes it just after %s; one changed later had files made or removed in it since)", wal, filepath.Join(dir, "LOCK"))
	if _, err := os.Lstat(wal); errors.Is(err, os.ErrNotExist) {
		walSays, when = wal+" is missing", ""
	}
	ckSays := fmt.Sprintf("%s holds no checkpoint (final or being written) and no %s file", ck, tlog.ModeFileName)
	if _, err := os.Lstat(ck); errors.Is(err, os.ErrNotExist) {
		ckSays = ck + " is missing"
	}
	return fmt.Sprintf("no log segment, no checkpoint and no %s file beside its LOCK: a bus that held nothing, as far as its files tell "+
		"(checked: %s; %s; %s holds nothing else that no bus makes). "+
		"A first Open that stopped before its first segment leaves that, and so does removing %s to accept the loss of a bus's files; "+
		"so does a bus written before the %s file existed (2026-12-06) whose wal/ was emptied before its first checkpoint, which nothing in the files tells apart. "+
		"Open makes it a new, empty bus, whose commits take the LSNs from 1 again: if a program committed to this bus, first look for its segments in a backup of %s%s",
		tlog.ModeFileName, walSays, ckSays, dir, filepath.Join(ck, tlog.ModeFileName), tlog.ModeFileName, wal, when)
}

// filesLost reports whether dir is a bus whose files were lost: its
// checkpoints/ holds no checkpoint, its log-mode file says "log", and its
// wal/ holds no segment or is missing (tlog.FilesLost, the judgement by
// which Open, Replay and the integrity validator refuse it). A directory
// that cannot be read so far is not judged here.
func filesLost(dir string) bool {
	if holdsCheckpoint(dir) {
		return false
	}
	lost, err := tlog.FilesLost(vfs.Default, filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints"))
	return err == nil && lost
}

// lossPendingFile is the mark, in checkpoints/, of a removed log that an
// Open with Repair or DisableLog accepted and whose loss no caller has
// been told of yet (tlog.LossPendingFileName: the Open that
// succeeds next reports it in Recovery().Log and removes the mark).
const lossPendingFile = tlog.LossPendingFileName

// lossPendingWarning is check's warning for a lossPendingFile.
const lossPendingWarning = "an Open with Repair or DisableLog accepted a removed log here and failed before reporting it: the operations committed after the newest checkpoint (every one, without a checkpoint) are lost; " +
	"the next Open that succeeds reports the loss in Recovery().Log.LostFirstLSN and removes this file"

// fileExists reports whether path names an entry (of any kind).
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// logRemoved is what tlog.CheckRemoved finds missing of the log of dir
// when its checkpoints/ holds a checkpoint (tlog.NotRemoved without one,
// or when the directory cannot be read so far): the judgement by which
// Open, Replay and the integrity validator refuse it.
func logRemoved(dir string) tlog.Removal {
	if !holdsCheckpoint(dir) {
		return tlog.NotRemoved
	}
	removed, _, err := tlog.CheckRemoved(vfs.Default, filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints"))
	if err != nil {
		return tlog.NotRemoved
	}
	return removed
}

// segmentsRemovedReason is check's problem for a directory whose log
// segments were removed beside a checkpoint (logRemoved is
// tlog.SegmentsRemoved), with the ways out, each of which check then
// accepts (TestCheckRemovedLogReportedOnce). The replays said it, in
// Open's words, and the validators repeated it, with no way out an mmsb
// command takes: removing the log-mode file is one (a checkpoint beside
// an empty wal/ without it is a log holding nothing past the checkpoint,
// as a directory written before the file existed reads).
func segmentsRemovedReason(dir string) string {
	wal := filepath.Join(dir, "wal")
	mode := filepath.Join(dir, "checkpoints", tlog.ModeFileName)
	return fmt.Sprintf("%s holds no log segment, but %s says a log continues the checkpoints: its segments were removed, and with them every commit after the newest checkpoint "+
		"(restore them into %s; to accept the loss, open it once with Options.Repair or Options.DisableLog, or remove %s: the directory then opens at the newest checkpoint, "+
		"and the next commits take the lost LSNs; docs/operations.md, \"Recovery\")", wal, mode, wal, mode)
}

// lostFilesError is the refusal of a directory filesLost judges lost: it
// says what went, and the ways out, each of which every command that
// reads the directory accepts (TestLostFilesWayOut).
//
// A file that only a bus leaves under a name it does not read (busTraces:
// a segment renamed with ".del" or ".bak" added, a checkpoint's
// temporary) may hold every commit: it is named first, with the advice to
// rename it back. The refusal named only the ways to accept the loss, and
// once the log-mode file was removed as it said, any Open (an
// application's, mmsb serve's) removed a segment under its ".del" name as
// a leftover, with every commit in it (TestLostFilesRenamedSegmentWayOut).
func lostFilesError(dir string) error {
	wal := filepath.Join(dir, "wal")
	what := fmt.Sprintf("%s holds no log segment and %s no checkpoint", wal, filepath.Join(dir, "checkpoints"))
	if _, err := os.Lstat(wal); errors.Is(err, os.ErrNotExist) {
		what = fmt.Sprintf("%s has checkpoints/ but no wal/ (%s is missing) and no checkpoint", dir, wal)
	}
	mode := filepath.Join(dir, "checkpoints", tlog.ModeFileName)
	renamed := ""
	if traces := busTraces(dir); len(traces) > 0 {
		renamed = fmt.Sprintf("first: %s %s under names a bus does not read (a segment's or a checkpoint's with a part added): if one is this bus's file, whole, "+
			"rename it back without the added part before anything else, as every Open removes a segment ending in \".log.del\" once %s is gone, and with Options.Repair; otherwise ",
			strings.Join(traces, ", "), inNumber(len(traces), "remains", "remain"), mode)
	}
	return fmt.Errorf("%s, and %s says a log holds its history: the bus's files are lost, and with them every commit "+
		"(%srestore them from a backup; to accept the loss, open it once with Options.Repair, or remove %s: the directory then opens as a new, empty bus; docs/operations.md, \"Recovery\")",
		what, mode, renamed, mode)
}

// noModeFile reports whether dir's checkpoints/ holds no log-mode file.
func noModeFile(dir string) bool {
	m, err := tlog.ReadMode(vfs.Default, filepath.Join(dir, "checkpoints"))
	return err == nil && m == tlog.ModeUnknown
}

// walNotDirError says that dir's wal is not a directory, and what to do.
func walNotDirError(dir string) error {
	wal := filepath.Join(dir, "wal")
	return fmt.Errorf("%s is not a directory: the log cannot be read (move the file aside, then put the bus's wal/ directory back, "+
		"from the copy or disk it came from; a bus opens only with wal/ a directory)", wal)
}

// requireLogDir refuses a data directory that has checkpoints/ but no
// wal/: every bus with a log makes both at its first Open, so wal/ was
// removed, and with it every commit after the newest checkpoint. Open
// refuses such a directory once it holds a checkpoint (ErrCorruption,
// Bus.checkLogDir); `mmsb check`, which reads the files without opening a
// bus, read it as an empty log ("OK"), and `mmsb checkpoint` wrote a
// checkpoint of what was left. A directory whose log-mode says "no log"
// is not refused: its wal/ held nothing (tlog.CheckRemoved).
func requireLogDir(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "checkpoints")); err != nil {
		return nil // requireDataDir found wal/, or reports the directory
	}
	// A wal/ linked to a disk that is not mounted read as a missing one:
	// "removed", or "lost" without a checkpoint.
	if err := tlog.LogDirUnreachable(vfs.Default, filepath.Join(dir, "wal")); err != nil {
		return fmt.Errorf("%w (make the link's target reachable: mount its disk, or restore it)", err)
	}
	if filesLost(dir) {
		return lostFilesError(dir)
	}
	switch st, err := os.Stat(filepath.Join(dir, "wal")); {
	case errors.Is(err, os.ErrNotExist) && writtenWithoutLog(dir):
		return nil // a bus without a log leaves wal/ empty, and copies drop empty directories
	case errors.Is(err, os.ErrNotExist) && !holdsCheckpoint(dir) && noModeFile(dir):
		// Nothing a log continued and nothing saying a log ran: a bus
		// that held nothing (a first Open that stopped between making
		// checkpoints/ and wal/), or one whose log-mode file the
		// operator removed to accept the loss of its files, as
		// lostFilesError names. Open makes it a new, empty bus; this
		// refused it as a removed log until 2026-12-07
		// (TestLostFilesWayOut).
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s has checkpoints/ but no wal/: its log was removed, and with it every commit after the newest checkpoint; "+
			"a checkpoint now would record the loss as the bus's state (%s)",
			dir, missingLogAdvice(dir))
	case err != nil:
		return fmt.Errorf("%s: %w", filepath.Join(dir, "wal"), err)
	case !st.IsDir():
		return walNotDirError(dir)
	}
	return nil
}
