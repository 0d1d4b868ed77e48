package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// errOutNotEmpty: replay --out names a directory that already holds files.
var errOutNotEmpty = errors.New("output directory is not empty")

// replayOptions are the flags of `mmsb replay`.
type replayOptions struct {
	toLSN     uint64
	toTime    string
	page      uint64
	epoch     uint64
	pageSet   bool
	epochSet  bool
	fromEmpty bool
	out       string
	json      bool
}

// replayResult is what `mmsb replay --json` prints.
type replayResult struct {
	Source      string  `json:"source"`
	Out         string  `json:"out"`
	Checkpoint  string  `json:"checkpoint"` // the checkpoint written in Out
	Bytes       int64   `json:"bytes"`
	LSN         uint64  `json:"lsn"`
	StateHash   string  `json:"state_hash"`
	Pages       int     `json:"pages"`
	Edges       int     `json:"edges"`
	Bindings    int     `json:"bindings"`
	TargetLSN   uint64  `json:"target_lsn,omitempty"`
	TargetTime  int64   `json:"target_time_ns,omitempty"`
	TargetPage  uint64  `json:"target_page,omitempty"`
	TargetEpoch uint64  `json:"target_epoch,omitempty"`
	DurationSec float64 `json:"duration_sec"`
}

func (a *app) replayCmd() *cobra.Command {
	o := &replayOptions{}
	cmd := &cobra.Command{
		Use:   "replay DIR --out DIR2 [--to-lsn N | --to-time T | --page P --epoch E]",
		Short: "Replay a data directory to a point in time into a new data directory",
		Long: `replay rebuilds the state of DIR as of a point in history and writes it as a
new, openable data directory DIR2 (absent or empty, and outside DIR):

  --to-lsn N          every operation up to and including LSN N
  --to-time T         every batch committed at or before T (RFC 3339, e.g.
                      2026-01-02T15:04:05.123Z, or nanoseconds since 1970)
  --page P --epoch E  stop as soon as page P reaches epoch E

The targets exclude each other. With no target it replays everything (a
compact copy of the current state).
The replay starts from the newest checkpoint at or before the target (time
and epoch targets start from LSN 1 when the log still holds it); --from-empty
forces a replay from LSN 1.

DIR2 receives one checkpoint holding the replayed state exactly (page IDs,
bytes, epochs, last-write LSNs, metadata, flags, edges, bindings and the LSN)
and an empty log that continues at the next LSN; the history before that
point is not copied. replay then opens DIR2 as a bus and checks that it
recovers the same state hash, which it prints with the LSN.

DIR is only read (no lock), so replay works next to a running writer. A DIR
with checkpoints/ but no wal/ lost its log and is refused, as Open refuses
it (restore wal/; to accept the loss, create it empty where no
checkpoints/log-mode says a log continues the checkpoints, else open DIR once
with Options.Repair).`,
		Example: `  mmsb replay ./data --to-lsn 5000 --out ./data-at-5000
  mmsb replay ./data --to-time 2026-01-02T15:04:05Z --out ./before-incident
  mmsb replay ./data --page 42 --epoch 7 --out ./page42-v7 --json`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.pageSet, o.epochSet = cmd.Flags().Changed("page"), cmd.Flags().Changed("epoch")
			return a.runReplay(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&o.toLSN, "to-lsn", 0, "stop after this LSN (0: no limit)")
	f.StringVar(&o.toTime, "to-time", "", "stop before the first batch committed after this time (RFC 3339 or ns since the Unix epoch)")
	f.Uint64Var(&o.page, "page", 0, "with --epoch: stop once this page reaches the epoch")
	atLeastOne(f, "page")
	f.Uint64Var(&o.epoch, "epoch", 0, "with --page: the epoch to stop at")
	f.BoolVar(&o.fromEmpty, "from-empty", false, "replay from LSN 1, ignoring checkpoints (fails if the log no longer starts at LSN 1)")
	f.StringVar(&o.out, "out", "", "new data directory to write (absent or empty, outside DIR; required)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
	return cmd
}

// Commits are stamped in int64 nanoseconds since 1970, and ToTime 0 means
// "no time target": a --to-time must lie in (1970, lastStampTime].
// time.Time.UnixNano is undefined outside that range (year 2999 wrapped to
// a negative stamp and replayed nothing, year 1600 to one in 2184 that
// replayed everything), and 1970-01-01T00:00:00Z gave 0, which replayed
// everything too.
var lastStampTime = time.Unix(0, math.MaxInt64)

// parseTime parses an RFC 3339 time or an integer of nanoseconds since the
// Unix epoch (the unit commits are stamped in).
func parseTime(s string) (int64, error) {
	if ns, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ns <= 0 {
			return 0, fmt.Errorf("time %d: must be positive", ns)
		}
		return ns, nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("time %s out of range: nanoseconds since 1970 must be in 1..%d: %w", s, int64(math.MaxInt64), err)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("time %q: want RFC 3339 (2006-01-02T15:04:05Z) or nanoseconds since 1970", s)
	}
	if !t.After(time.Unix(0, 0)) || t.After(lastStampTime) {
		return 0, fmt.Errorf("time %s out of range: must be after %s and not after %s (commit times are int64 nanoseconds since 1970)",
			s, time.Unix(0, 0).UTC().Format(time.RFC3339), lastStampTime.UTC().Format(time.RFC3339Nano))
	}
	return t.UnixNano(), nil
}

// target turns the flags into a replay target, refusing contradictions.
func (o *replayOptions) target() (mmsb.ReplayTarget, error) {
	t := mmsb.ReplayTarget{ToLSN: mmsb.LSN(o.toLSN), FromEmpty: o.fromEmpty}
	if o.out == "" {
		return t, usageErr("--out is required")
	}
	if o.toTime != "" {
		ns, err := parseTime(o.toTime)
		if err != nil {
			return t, usageErr("--to-time: %v", err)
		}
		t.ToTime = ns
	}
	// --page 0 names no page: alone it was taken as no target (the whole
	// log replayed, exit 0), and with --epoch it read "go together".
	if o.pageSet && o.page == 0 {
		return t, usageErr("--page must be at least 1 (page IDs start at 1), got 0")
	}
	if o.pageSet != o.epochSet {
		return t, usageErr("--page and --epoch go together")
	}
	if o.page != 0 {
		if o.epoch == 0 {
			return t, usageErr("--epoch must be at least 1 (epoch 0 is the page's creation)")
		}
		t.Page, t.Epoch = mmsb.PageID(o.page), mmsb.Epoch(o.epoch)
	}
	// The targets are alternatives (the synopsis): given together, the
	// replay would stop at whichever came first and print the state as if
	// it were the one asked for.
	targets := 0
	for _, set := range []bool{o.toLSN != 0, o.toTime != "", o.page != 0} {
		if set {
			targets++
		}
	}
	if targets > 1 {
		return t, usageErr("--to-lsn, --to-time and --page/--epoch exclude each other")
	}
	return t, nil
}

// requireFreshDir checks that dir is absent or an empty directory. A
// symbolic link to nothing is neither: replay would replace the link.
func requireFreshDir(dir string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			if target, lerr := os.Readlink(dir); lerr == nil {
				return fmt.Errorf("output directory %s is a symbolic link to %s, which does not exist: %w", dir, target, err)
			}
			return nil
		}
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	if len(names) > 0 {
		// A usage error (exit 2), as an --out that is a file or lies
		// inside DIR: the flag's rule is "absent or empty" (docs/cli.md),
		// and it exited 1, as if the replay had run and failed.
		return fmt.Errorf("%w: --out %s: %w: it holds %s (replay never overwrites data: give an absent or empty directory)",
			errUsage, dir, errOutNotEmpty, counted(len(names), "entry", "entries"))
	}
	return nil
}

// requireOutsideSource refuses an --out that is the source directory or
// lies anywhere inside it, also through symbolic links or "..": replay
// promises to only read DIR, and writing DIR2 there would add to it. It
// returns where DIR2 is to be written: out resolved (resolvePath).
func requireOutsideSource(src, out string) (string, error) {
	srcReal, err := resolvePath(src)
	if err != nil {
		return "", fmt.Errorf("resolve DIR %s: %w", src, err)
	}
	outReal, err := resolvePath(out)
	if err != nil {
		return "", fmt.Errorf("resolve --out %s: %w", out, err)
	}
	rel, err := filepath.Rel(srcReal, outReal)
	if err != nil {
		return outReal, nil // on different volumes: not inside
	}
	switch {
	case rel == ".":
		return "", usageErr("--out %s must differ from DIR %s", out, src)
	case rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)):
		return "", usageErr("--out %s lies inside DIR %s (replay only reads DIR): choose a directory outside it", out, src)
	}
	return outReal, nil
}

// resolvePath returns the absolute path of p with every symbolic link of
// its longest existing prefix resolved; the part that does not exist yet
// is appended as written (cleaned).
func resolvePath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for cur := abs; ; {
		resolved, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{resolved}, rest...)...), nil
		}
		if !os.IsNotExist(err) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}

func (a *app) runReplay(ctx context.Context, dir string, o *replayOptions) error {
	target, err := o.target()
	if err != nil {
		return err
	}
	if err := requireDataDir(dir); err != nil {
		return err
	}
	// Another program's directory with a wal/ was replayed as an empty
	// bus: DIR2 made, "replayed ... LSN 0", exit 0. Before requireLogDir,
	// as check and checkpoint refuse it: one holding a file named wal was
	// a bus whose "wal is not a directory: the log cannot be read"
	// (TestNonDirectoryBusSubdirNamed).
	if err := requireBusFiles(dir, "; nothing was written"); err != nil {
		return err
	}
	// A DIR whose wal/ was removed lost every commit after its newest
	// checkpoint (or all of them): the replay read the missing log as an
	// empty one, and DIR2 was that loss written as an intact directory.
	// mmsb.Replay refuses it once a checkpoint is left; this also catches
	// a directory whose log went before its first checkpoint, as check
	// and checkpoint do.
	if err := requireLogDir(dir); err != nil {
		return err
	}
	// DIR2 is written where --out leads: named as given, "." (whose
	// parent is itself) failed after the whole replay with "remove .:
	// invalid argument", and a symbolic link to an empty directory was
	// replaced by the new directory, the one it named left empty.
	// Checked before requireFreshDir: DIR itself (or a link to it) is
	// a usage error, and was refused as "not empty" (exit 1).
	// An --out that is a file, or below one, can never be made: it
	// failed with exit 1 ("output directory X: open X: not a
	// directory", "resolve --out ...: not a directory").
	if err := checkOutputDir(o.out); err != nil {
		return usageErr("--out %s: %v", o.out, err)
	}
	outPath, err := requireOutsideSource(dir, o.out)
	if err != nil {
		return err
	}
	if err := requireFreshDir(o.out); err != nil {
		return err
	}
	start := time.Now()
	state, err := replayBesideWriter(ctx, vfs.Default, dir, target, nil)
	if err != nil {
		return replayInterrupted(ctx, dir, replayFailed(dir, err))
	}
	defer state.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	a.noteSkippedCheckpoints(state.Recovery(), "the copy holds none of it; run `mmsb check "+termText(dir)+"`")
	if target.ToTime != 0 && state.LastLSN() == 0 {
		// The state at T is the empty bus, and DIR2 is that (a script
		// stepping --to-time through a day gets every state), but a T
		// before the first commit is more often a wrong zone or day: it
		// was written without a word (TestReplayToTimeBeforeFirstCommitSaysSo).
		fmt.Fprintf(a.stderr, "note: nothing in %s was committed at or before --to-time %s: %s will hold an empty bus (LSN 0); check the time and its zone\n",
			termText(dir), time.Unix(0, target.ToTime).UTC().Format(time.RFC3339Nano), termText(o.out))
	}
	if target.Page != 0 {
		if p, err := state.Page(target.Page); err != nil || p.Epoch < target.Epoch {
			return fmt.Errorf("page %d never reached epoch %d in %s", target.Page, target.Epoch, dir)
		}
	}

	res := &replayResult{Source: dir, Out: o.out, TargetLSN: o.toLSN, TargetTime: target.ToTime,
		TargetPage: o.page, TargetEpoch: uint64(target.Epoch)}
	res.LSN = uint64(state.LastLSN())
	if res.StateHash, err = stateHash(state); err != nil {
		return err
	}
	st := state.Stats()
	res.Pages, res.Edges, res.Bindings = st.Pages, st.Edges, st.Bindings

	// The replayed engine writes its checkpoint into its own in-memory
	// filesystem; copying it record by record through checkpoint.Create
	// gives DIR2 the same atomic write (temp file, fsync, rename, directory
	// fsync) as a checkpoint taken by a live bus.
	info, err := state.Checkpoint(ctx)
	if err != nil {
		return replayInterrupted(ctx, dir, fmt.Errorf("snapshot the replayed state: %w", err))
	}
	replaySnapshotHook()
	// DIR2 is built beside its final name and renamed into place once it
	// is proven: a replay that fails midway (a full disk, a failed check)
	// leaves no half-written DIR2 that a retry would refuse as not empty.
	parent := filepath.Dir(outPath)
	if err := vfs.MkdirAllAndSync(vfs.Default, parent); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	// A replay killed (SIGKILL, a crash, the machine's power) after this
	// point leaves its build directory, a whole copy of the state, hidden
	// beside DIR2; nothing said so, and each retry could leave another.
	// Named here, not removed: another replay into DIR2 may be running.
	prefix := "." + filepath.Base(outPath) + ".replay-"
	if entries, err := os.ReadDir(parent); err == nil {
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				fmt.Fprintf(a.stderr, "note: %s is left by a replay into %s that did not finish (killed, or still running): once no replay runs, remove it (it holds only a copy of a replayed state)\n",
					filepath.Join(parent, e.Name()), o.out)
			}
		}
	}
	build, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	defer func() { _ = os.RemoveAll(build) }() // gone once renamed
	// The empty log that continues the checkpoint (a checkpoint without
	// wal/ is a directory whose log was removed: Open refuses it).
	if err := vfs.MkdirAllAndSync(vfs.Default, filepath.Join(build, "wal")); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	ckptPath, n, err := copyCheckpoint(ctx, state.FS(), info.Path, filepath.Join(build, "checkpoints"))
	if err != nil {
		return replayInterrupted(ctx, dir, fmt.Errorf("write %s: %w", o.out, err))
	}
	res.Checkpoint, res.Bytes = filepath.Join(o.out, "checkpoints", filepath.Base(ckptPath)), n

	// Prove that DIR2 is a working bus holding exactly the replayed state.
	bus, err := mmsb.Open(build, &mmsb.Options{AllowMissingFunctions: true, CheckpointBytes: -1})
	if err != nil {
		return fmt.Errorf("open the new directory %s: %w", o.out, err)
	}
	gotLSN := uint64(bus.LastLSN())
	gotHash, err := stateHash(bus)
	if err != nil {
		_ = bus.Close() // a detached replay: nothing to lose
		return err
	}
	if err := bus.Close(); err != nil {
		return fmt.Errorf("close %s: %w", o.out, err)
	}
	if gotLSN != res.LSN || gotHash != res.StateHash {
		return fmt.Errorf("%s recovers LSN %d hash %s, want LSN %d hash %s", o.out, gotLSN, gotHash, res.LSN, res.StateHash)
	}
	// The last moment an interrupt can still leave nothing at DIR2 (the
	// proof above takes a while on a large state and cannot be stopped).
	if err := ctx.Err(); err != nil {
		return replayInterrupted(ctx, dir, err)
	}
	// An empty --out (requireFreshDir) gives way to the built one.
	if err := os.Remove(outPath); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := os.Rename(build, outPath); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	if err := vfs.Default.SyncDir(parent); err != nil {
		return fmt.Errorf("write %s: %w", o.out, err)
	}
	res.DurationSec = time.Since(start).Seconds()

	if o.json {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "replayed %s into %s\n", dir, o.out)
	fmt.Fprintf(a.stdout, "LSN         %d\nstate hash  %s\npages       %d\nedges       %d\nbindings    %d\ncheckpoint  %s (%s)\nduration    %.3f s\n",
		res.LSN, res.StateHash, res.Pages, res.Edges, res.Bindings, res.Checkpoint, humanBytes(res.Bytes), res.DurationSec)
	return nil
}

// replaySnapshotHook runs once the replayed state's checkpoint is taken,
// before it is copied (a variable for tests; a no-op otherwise).
var replaySnapshotHook = func() {}

// replayInterrupted returns err, or, when ctx was cancelled (SIGINT,
// SIGTERM), says that the replay of dir was interrupted: nothing is left
// at --out then. The copy and the proof after the replay ran on after an
// interrupt, for seconds on a large state, and exited 0.
func replayInterrupted(ctx context.Context, dir string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("replay of %s interrupted before it finished; nothing was written to --out: %w", dir, cerr)
	}
	return err
}

// copyCheckpoint copies the checkpoint at path on src into dstDir on the
// OS filesystem, re-framing every record through a checkpoint.Writer, and
// returns the new path and size. It stops at the first record after ctx
// is cancelled.
func copyCheckpoint(ctx context.Context, src vfs.FS, path, dstDir string) (string, int64, error) {
	r, err := checkpoint.Open(src, path)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	dst := vfs.Default
	// Durably: a copy whose directory a power failure can drop is no copy.
	if err := vfs.MkdirAllAndSync(dst, dstDir); err != nil {
		return "", 0, fmt.Errorf("create %s: %w", dstDir, err)
	}
	w, err := checkpoint.Create(dst, dstDir, r.LSN())
	if err != nil {
		return "", 0, err
	}
	for {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return "", 0, err
		}
		kind, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			err = w.Append(kind, payload)
		}
		if err != nil {
			w.Abort()
			return "", 0, err
		}
	}
	out, err := w.Commit()
	if err != nil {
		return "", 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return "", 0, err
	}
	return out, st.Size(), nil
}
