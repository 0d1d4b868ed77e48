package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// openWriter opens a bus in a new directory, creates 4 pages of 64 bytes
// and commits batches, with a checkpoint after the first few: a running
// writer beside which `mmsb check` runs. The caller commits more through
// commit(n) and the bus is closed when the test ends.
func openWriter(t *testing.T) (dir string, bus *mmsb.Bus, commit func(n int)) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	specs := make([]mmsb.PageSpec, 4)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64}
	}
	if _, err := bus.CreatePages(ctx, specs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	round := 0
	commit = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		for range n {
			round++
			ds := make([]mmsb.Delta, 4)
			for i := range ds {
				ds[i] = mmsb.Write(mmsb.PageID(i+1), uint32(round%8)*8, []byte{byte(round), byte(i), 0xAA, 0x55})
			}
			if _, err := bus.Commit(ctx, ds); err != nil {
				t.Error(err)
				return
			}
		}
	}
	commit(3)
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	commit(3)
	return dir, bus, commit
}

// TestCheckBesideACommittingWriter: `mmsb check` works next to a running
// writer (docs/cli.md, "Reading beside a writer"), but its second replay
// (the recovery path) read the log to its end after the writer had
// committed more, reached a later LSN than the first (the whole history)
// and reported "replay from empty reaches LSN 33 hash ..., but recovery
// (newest checkpoint + log) reaches LSN 45 hash ...": every check of a busy
// bus failed (exit 1) while the directory was whole. The recovery replay
// now stops at the LSN the first one reached. The writer commits between
// the two replays here, as it does there.
func TestCheckBesideACommittingWriter(t *testing.T) {
	dir, bus, commit := openWriter(t)
	saved := checkHook
	checkHook = func(stage string) {
		if stage == "between replays" {
			commit(3)
		}
	}
	defer func() { checkHook = saved }()
	before := bus.LastLSN()

	r := runCLI(t, "check", "--no-progress", "--json", dir)
	var rep checkReport
	r.decodeJSON(t, &rep)
	if r.code != exitOK || !rep.OK {
		t.Fatalf("check beside a writer that committed during it: exit %d, problems %+v", r.code, rep.Problems)
	}
	if bus.LastLSN() == before {
		t.Fatal("the writer committed nothing during the check: the test tests nothing")
	}
	// Both replays at the LSN the first reached, which the writer had
	// made durable before the check began.
	if rep.Replay == nil || rep.Replay.LSN != uint64(before) || rep.Replay.RecoveryLSN != rep.Replay.LSN ||
		rep.Replay.RecoveryHash != rep.Replay.StateHash {
		t.Fatalf("replay %+v, want both at LSN %d", rep.Replay, before)
	}

	// Once the writer stops, check reaches the log's end, every commit
	// made during the first check included.
	last := bus.LastLSN()
	checkHook = saved
	r = runCLI(t, "check", "--no-progress", "--json", dir).mustCode(t, exitOK)
	rep = checkReport{}
	r.decodeJSON(t, &rep)
	if rep.Replay == nil || rep.Replay.LSN != uint64(last) || rep.Replay.RecoveryLSN != uint64(last) {
		t.Fatalf("replay %+v, want both at LSN %d", rep.Replay, last)
	}
}

// removingFS removes the file victim at an Open once armed, after letting
// skip Opens of it through, as a writer's checkpoint removes the oldest of
// the two it keeps.
type removingFS struct {
	vfs.FS
	victim string
	armed  atomic.Bool
	skip   atomic.Int32
	once   sync.Once
}

func (r *removingFS) Open(name string) (vfs.File, error) {
	if name == r.victim && r.armed.Load() && r.skip.Add(-1) < 0 {
		r.once.Do(func() { _ = os.Remove(name) })
	}
	return r.FS.Open(name)
}

// TestCheckCheckpointRemovedByWriter: a checkpoint that a running writer
// removed after check listed it (its next checkpoint removes the older of
// the two kept) was a problem, "checkpoint: open ...: no such file or
// directory", and check failed on a whole directory. It is passed over
// now, as recovery would never see it; a checkpoint name that is still
// listed but cannot be opened (a dangling link, TestOfflineCommandsUnreadableAndStrayCheckpoints)
// remains a problem.
func TestCheckCheckpointRemovedByWriter(t *testing.T) {
	dir, bus, commit := openWriter(t)
	if _, err := bus.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	commit(2)
	ckpts, err := checkpoint.List(vfs.Default, filepath.Join(dir, "checkpoints"))
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("want two checkpoints, got %v (%v)", ckpts, err)
	}
	older := ckpts[len(ckpts)-1].Path // List: newest first
	saved := checkFS
	defer func() { checkFS = saved }()

	// Removed when step 2 verifies it, and when the integrity validator
	// loads it to compare with the log (its listing, which stats every
	// checkpoint, let through: removed between the two, as a writer
	// removes it between a reader's listing and its read).
	for _, when := range []string{"verify", "validators"} {
		t.Run(when, func(t *testing.T) {
			if when == "validators" {
				dir, bus, commit = openWriter(t)
				if _, err := bus.Checkpoint(context.Background()); err != nil {
					t.Fatal(err)
				}
				commit(2)
				ckpts, _ = checkpoint.List(vfs.Default, filepath.Join(dir, "checkpoints"))
				older = ckpts[len(ckpts)-1].Path
			}
			rfs := &removingFS{FS: vfs.Default, victim: older}
			rfs.armed.Store(when == "verify")
			checkFS = rfs
			savedHook := checkHook
			checkHook = func(stage string) {
				if stage == "validators" {
					rfs.skip.Store(1) // the integrity validator's listing
					rfs.armed.Store(true)
				}
			}
			defer func() { checkHook = savedHook }()

			r := runCLI(t, "check", "--no-progress", dir)
			want := "checkpoints: 1 of 1 valid"
			if when == "validators" {
				want = "checkpoints: 2 of 2 valid" // both there when verified
			}
			if r.code != exitOK || !strings.Contains(r.stdout, want) {
				t.Fatalf("check with a checkpoint removed during it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if _, err := os.Stat(older); !os.IsNotExist(err) {
				t.Fatalf("the older checkpoint was not removed during the check (%v): the test tests nothing", err)
			}
		})
	}
}

// pruningFS runs prune before the first segment Open through it once
// armed: a writer that checkpointed twice, removing the checkpoint and the
// log segments a reader had listed, just before the reader opened one.
type pruningFS struct {
	vfs.FS
	prune func()
	armed atomic.Bool
	once  sync.Once
}

func (p *pruningFS) Open(name string) (vfs.File, error) {
	if strings.HasSuffix(name, ".log") && p.armed.Load() {
		p.once.Do(p.prune)
	}
	return p.FS.Open(name)
}

// pruningWriter opens a bus with 4 KiB segments and two checkpoints in a
// new directory and returns it, with prune (two more checkpoints, which
// remove the oldest one and the segments it covers, and a few commits)
// and the path of the oldest checkpoint now.
func pruningWriter(t *testing.T) (dir string, bus *mmsb.Bus, prune func(), oldest func() string) {
	t.Helper()
	ctx := context.Background()
	dir = filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{SegmentBytes: 4096, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 512}, {Size: 512}}); err != nil {
		t.Fatal(err)
	}
	round := 0
	commit := func(n int) {
		for range n {
			round++
			b := make([]byte, 512)
			for i := range b {
				b[i] = byte(round + i)
			}
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, b), mmsb.Write(2, 0, b)}); err != nil {
				t.Error(err)
				return
			}
		}
	}
	checkpointAfter := func(n int) {
		commit(n)
		if _, err := bus.Checkpoint(ctx); err != nil {
			t.Error(err)
		}
	}
	checkpointAfter(10)
	checkpointAfter(10)
	commit(10)
	oldest = func() string {
		ckpts, err := checkpoint.List(vfs.Default, filepath.Join(dir, "checkpoints"))
		if err != nil || len(ckpts) == 0 {
			t.Fatalf("checkpoints %v (%v)", ckpts, err)
		}
		return ckpts[len(ckpts)-1].Path
	}
	prune = func() {
		checkpointAfter(10)
		checkpointAfter(10)
		commit(3)
	}
	return dir, bus, prune, oldest
}

// TestReplayBesideAPruningWriter: a replay that listed a directory's
// checkpoints and segments before the writer beside it checkpointed,
// removing the oldest checkpoint and the segments it covered, failed on
// opening one ("no such file or directory", or "log jumps from LSN ..."),
// and check reported it as a problem and replay (the backup procedure of
// docs/operations.md) exited 1. The reading commands replay again when
// the directory's files changed meanwhile (replayBesideWriter); a replay
// that fails on unchanged files fails at once.
func TestReplayBesideAPruningWriter(t *testing.T) {
	dir, bus, prune, oldest := pruningWriter(t)
	first := oldest()
	fs := &pruningFS{FS: vfs.Default, prune: prune}
	fs.armed.Store(true)
	st, err := replayBesideWriter(context.Background(), fs, dir, mmsb.ReplayTarget{FromOldestCheckpoint: true}, nil)
	if err != nil {
		t.Fatalf("replay from the oldest checkpoint while the writer pruned it: %v", err)
	}
	defer st.Close()
	if oldest() == first {
		t.Fatalf("the writer removed no checkpoint (%s is still the oldest): the test tests nothing", first)
	}
	if st.LastLSN() != bus.LastLSN() {
		t.Fatalf("replay reached LSN %d, the writer is at %d", st.LastLSN(), bus.LastLSN())
	}
}

// TestCheckIntegrityBesideAPruningWriter: check's integrity validator
// reads the log and the checkpoints itself; a writer that checkpointed
// and trimmed while it read made it report the directory half-changed
// ("no such file or directory" for a segment it had listed), a problem of
// a whole directory. It runs again when it found problems and the files
// changed under it.
func TestCheckIntegrityBesideAPruningWriter(t *testing.T) {
	dir, _, prune, oldest := pruningWriter(t)
	first := oldest()
	pfs := &pruningFS{FS: vfs.Default, prune: prune}
	saved, savedHook := checkFS, checkHook
	checkFS = pfs
	checkHook = func(stage string) {
		if stage == "validators" {
			pfs.armed.Store(true)
		}
	}
	defer func() { checkFS, checkHook = saved, savedHook }()

	r := runCLI(t, "check", "--no-progress", dir)
	if r.code != exitOK {
		t.Fatalf("check while the writer pruned under its integrity validator: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if oldest() == first {
		t.Fatalf("the writer removed no checkpoint (%s is still the oldest): the test tests nothing", first)
	}
}
