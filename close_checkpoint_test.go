package mmsb

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCloseStopsRunningCheckpoint: Close waited for a running checkpoint
// to finish, automatic or not. Paced at CheckpointWriteRate (16 s a
// gigabyte by default) that kept Close of a 10 GiB bus waiting some 160 s,
// past systemd's 90 s stop timeout: mmsb serve was killed on a normal
// stop. The log holds everything a checkpoint would, so Close now stops it
// between two ranges of pages: Close returns with the checkpoint only part
// written (the hook below holds its second range until Close has begun,
// so without the fix it writes every range before Close returns), no
// checkpoint file is left, an explicit Checkpoint returns ErrClosed, the
// stop is not counted as a failure, and a reopen has the whole state. A
// bus without a log (DisableLog) keeps its state only in checkpoints:
// there Close still lets the checkpoint finish.
func TestCloseStopsRunningCheckpoint(t *testing.T) {
	const ranges = 3
	for _, tc := range []struct {
		name       string
		auto       bool // started as an automatic checkpoint; else Checkpoint(ctx)
		disableLog bool
	}{
		{"automatic", true, false},
		{"explicit", false, false},
		{"explicit without a log", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			opts := &Options{FS: fs, CheckpointBytes: -1, DisableLog: tc.disableLog}
			e := openT(t, "/db", opts)
			defer e.Close()
			ids := mustCreate(t, e, ranges*ckptRangePages, 16)
			if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, "first"), w(ids[len(ids)-1], 3, "last")}); err != nil {
				t.Fatal(err)
			}
			hash, lsn := hashOf(t, e), e.LastLSN()

			// Range 2 waits until Close has begun, so that the checkpoint
			// is surely still running when Close is called.
			copied := 0 // ranges past step 1; read after Close returns
			started := make(chan struct{})
			e.ckptAfterStep1 = func() {
				copied++
				switch copied {
				case 1:
					close(started)
				case 2:
					for deadline := time.Now().Add(livenessBound); ; time.Sleep(time.Millisecond) {
						e.ckptStartMu.Lock()
						closing := e.closing
						e.ckptStartMu.Unlock()
						if closing || time.Now().After(deadline) {
							return
						}
					}
				}
			}
			explicit := make(chan error, 1)
			if tc.auto {
				e.startCheckpoint()
			} else {
				go func() { _, err := e.Checkpoint(context.Background()); explicit <- err }()
			}
			<-started
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			names, _ := fs.List("/db/checkpoints")
			var ckpts []string
			for _, n := range names {
				if n != tlog.ModeFileName {
					ckpts = append(ckpts, n)
				}
			}

			if tc.disableLog {
				// The checkpoint is the bus's only copy: Close let it end.
				if err := <-explicit; err != nil {
					t.Fatalf("Checkpoint of a bus without a log, Close beside it: %v", err)
				}
				if copied != ranges || len(ckpts) != 1 || strings.HasSuffix(ckpts[0], ".tmp") {
					t.Fatalf("without a log Close must let the checkpoint finish: %d of %d ranges, files %v", copied, ranges, ckpts)
				}
			} else {
				if copied >= ranges {
					t.Fatalf("Close waited for the whole running checkpoint: %d of %d ranges copied when it returned", copied, ranges)
				}
				if len(ckpts) != 0 {
					t.Fatalf("checkpoint files left by the stopped checkpoint: %v", ckpts)
				}
				if !tc.auto {
					if err := <-explicit; !errors.Is(err, ErrClosed) {
						t.Fatalf("Checkpoint stopped by Close = %v, want ErrClosed", err)
					}
				}
				if st := e.Stats(); st.CheckpointFailures != 0 {
					t.Fatalf("the checkpoint Close stopped counted as %d failures", st.CheckpointFailures)
				}
			}

			e2 := openT(t, "/db", &Options{FS: fs, CheckpointBytes: -1, DisableLog: tc.disableLog})
			defer e2.Close()
			if e2.LastLSN() != lsn || hashOf(t, e2) != hash {
				t.Fatalf("reopened at LSN %d (want %d), hash equal %v", e2.LastLSN(), lsn, hashOf(t, e2) == hash)
			}
		})
	}
}

// hidingFS counts the shrink steps (Truncate) of old checkpoints being
// removed (opened under their hidden .ckpt.tmp name) and holds the first
// one until Close has begun. Its files keep the OS file's StartWriteback,
// so vfs.RemoveGradually paces them as it does on storage.
type hidingFS struct {
	vfs.FS
	e      atomic.Pointer[Bus]
	steps  atomic.Int64
	closed atomic.Bool // Close had begun by the first step's end
}

type hidingFile struct {
	vfs.File
	fs *hidingFS
}

func (f *hidingFile) StartWriteback(off, n int64) error {
	return f.File.(vfs.RangeSyncer).StartWriteback(off, n)
}

func (f *hidingFile) Truncate(size int64) error {
	err := f.File.Truncate(size)
	if f.fs.steps.Add(1) == 1 {
		e := f.fs.e.Load()
		for deadline := time.Now().Add(livenessBound); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if e.closeBegun() {
				f.fs.closed.Store(true)
				break
			}
		}
	}
	return err
}

func (h *hidingFS) OpenAppend(name string) (vfs.File, error) {
	f, err := h.FS.OpenAppend(name)
	if err != nil || !strings.HasSuffix(name, ".ckpt.tmp") {
		return f, err
	}
	return &hidingFile{File: f, fs: h}, nil
}

// TestCloseHurriesOldCheckpointRemoval: a checkpoint removes the old
// checkpoint it supersedes 2 MiB at a time with a 1 ms pause, and Close
// waits for that: a 10 GiB old checkpoint held Close 5.7 s (sparse; about
// 9 s allocated) for pacing that protects no commit once Close has begun.
// Here the old checkpoint is grown (sparse) to 32 MiB and its first shrink
// step is held until Close has begun: Close must then take no further
// step (the rest is unlinked at once). Without the fix it took all 15
// steps, paced. The directory keeps no hidden file, the two newest
// checkpoints stay, and a reopen has the whole state.
func TestCloseHurriesOldCheckpointRemoval(t *testing.T) {
	hfs := &hidingFS{FS: vfs.Default}
	dir := t.TempDir()
	opts := &Options{FS: hfs, CheckpointBytes: -1}
	e := openT(t, dir, opts)
	defer e.Close()
	hfs.e.Store(e)
	ids := mustCreate(t, e, 2, 64)
	oldest, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"a", "b"} {
		if _, err := e.Commit(ctx, []Delta{w(ids[i], 0, s)}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	hash, lsn := hashOf(t, e), e.LastLSN()
	if err := os.Truncate(oldest.Path, 32<<20); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := e.Checkpoint(context.Background()); done <- err }()
	for deadline := time.Now().Add(livenessBound); hfs.steps.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old checkpoint's removal never started")
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Checkpoint whose cleanup Close hurried: %v", err)
	}
	if !hfs.closed.Load() {
		t.Fatal("Close had not begun when the first shrink step ended")
	}
	if n := hfs.steps.Load(); n != 1 {
		t.Fatalf("%d shrink steps of the 32 MiB old checkpoint, want 1: once Close has begun the rest must be removed at once, not paced 2 MiB at a time", n)
	}
	names, err := vfs.Default.List(e.CheckpointDir())
	if err != nil {
		t.Fatal(err)
	}
	var ckpts []string
	for _, n := range names {
		if n != tlog.ModeFileName {
			ckpts = append(ckpts, n)
		}
	}
	if len(ckpts) != 2 || strings.HasSuffix(ckpts[0], ".tmp") || strings.HasSuffix(ckpts[1], ".tmp") {
		t.Fatalf("checkpoint directory after Close: %v, want the two newest checkpoints", ckpts)
	}
	e2 := openT(t, dir, &Options{CheckpointBytes: -1})
	defer e2.Close()
	if e2.LastLSN() != lsn || hashOf(t, e2) != hash {
		t.Fatalf("reopened at LSN %d (want %d), hash equal %v", e2.LastLSN(), lsn, hashOf(t, e2) == hash)
	}
}
