//go:build unix

package mmsb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// notCkptBus makes a bus in dir with a few commits and one checkpoint
// (the log leads past it), closes it and returns its last LSN.
func notCkptBus(t *testing.T, fs vfs.FS, dir string) LSN {
	t.Helper()
	e := openT(t, dir, &Options{FS: fs, CheckpointBytes: -1})
	ids := mustCreate(t, e, 2, 64)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "after the checkpoint")}); err != nil {
		t.Fatal(err)
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return last
}

// TestRecoverPassesOverNonFileCheckpointName: a name under a checkpoint's
// pattern past the log's end that holds no checkpoint file (a directory
// with the operator's files in it, an empty directory, a named pipe) is
// not a checkpoint that was lost: Open
// recovers from what is there, says in Recovery().SkippedCheckpoint that
// it passed the name over, and leaves it as it is, its files too (with
// Repair as well). Before, Open failed with ErrCorruption ("does not load
// ... committed operations are missing"), and Repair's removal of a
// non-empty directory failed, so the bus could not be opened at all.
// A damaged checkpoint FILE past the log's end is still refused: that is
// evidence of lost commits.
func TestRecoverPassesOverNonFileCheckpointName(t *testing.T) {
	plant := map[string]func(t *testing.T, path string){
		"directory": func(t *testing.T, path string) {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(path, "notes"), []byte("the operator's"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"empty-directory": func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"fifo": func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		},
	}
	for _, name := range []string{"directory", "empty-directory", "fifo"} {
		for _, repair := range []bool{false, true} {
			sub := name
			if repair {
				sub += "/repair"
			}
			t.Run(sub, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "db")
				last := notCkptBus(t, vfs.Default, dir)
				bad := filepath.Join(dir, "checkpoints", checkpoint.FileName(last+100))
				plant[name](t, bad)
				e, err := Open(dir, &Options{CheckpointBytes: -1, Repair: repair, Clock: testClock()})
				if err != nil {
					t.Fatalf("open beside %s under a checkpoint's name: %v", name, err)
				}
				defer e.Close()
				if e.LastLSN() != last {
					t.Errorf("recovered to LSN %d, want %d", e.LastLSN(), last)
				}
				if lost := e.Recovery().Log.LostLastLSN; lost != 0 {
					t.Errorf("Recovery reports lost LSNs through %d: nothing was lost", lost)
				}
				skipped := strings.Join(e.Recovery().SkippedCheckpoint, "; ")
				if !strings.Contains(skipped, bad) || !strings.Contains(skipped, "no checkpoint file") {
					t.Errorf("Recovery().SkippedCheckpoint = %q, want it to name %s as holding no checkpoint file", skipped, bad)
				}
				if _, err := os.Lstat(bad); err != nil {
					t.Errorf("%s: %v (it must be left as it is)", bad, err)
				}
				if name == "directory" {
					if got, err := os.ReadFile(filepath.Join(bad, "notes")); err != nil || string(got) != "the operator's" {
						t.Errorf("the directory's file: %q, %v", got, err)
					}
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				// Replay (mmsb check, the validators) agrees with Open.
				r, err := Replay(ctx, dir, ReplayTarget{}, nil)
				if err != nil {
					t.Fatalf("replay beside %s under a checkpoint's name: %v", name, err)
				}
				defer r.Close()
				if r.LastLSN() != last {
					t.Errorf("replayed to LSN %d, want %d", r.LastLSN(), last)
				}
			})
		}
	}
	// A damaged checkpoint file past the log's end: refused as before.
	t.Run("damaged-file", func(t *testing.T) {
		refusedPastTheLog(t, func(t *testing.T, bad string) {
			if err := os.WriteFile(bad, []byte("not a checkpoint's bytes"), 0o600); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// TestRecoverRefusesDanglingCheckpointLink: a symbolic link under a
// checkpoint's name past the log's end whose target is missing (a
// checkpoint moved to another disk, since unmounted) is a checkpoint whose
// file is gone, not an operator's directory: Open refuses it as it
// refuses a damaged checkpoint file, instead of opening below its LSN.
func TestRecoverRefusesDanglingCheckpointLink(t *testing.T) {
	refusedPastTheLog(t, func(t *testing.T, bad string) {
		if err := os.Symlink(filepath.Join(filepath.Dir(bad), "..", "elsewhere", filepath.Base(bad)), bad); err != nil {
			t.Fatal(err)
		}
	})
}

// refusedPastTheLog plants something under a checkpoint's name 100 LSNs
// past the end of a bus's log and requires Open to refuse it with
// ErrCorruption naming it.
func refusedPastTheLog(t *testing.T, plant func(t *testing.T, bad string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	last := notCkptBus(t, vfs.Default, dir)
	bad := filepath.Join(dir, "checkpoints", checkpoint.FileName(last+100))
	plant(t, bad)
	e, err := Open(dir, &Options{CheckpointBytes: -1, Clock: testClock()})
	if err == nil {
		n := e.LastLSN()
		_ = e.Close()
		t.Fatalf("opened at LSN %d beside %s for LSN %d", n, bad, last+100)
	}
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("open: %v, want ErrCorruption naming %s", err, bad)
	}
}

// TestRecoverNonFileCheckpointNameOnly: a fresh bus whose checkpoints/
// holds only a directory under a checkpoint's name (and an empty log)
// opens empty: there is no checkpoint that could not be loaded. Before,
// Open failed with "no checkpoint could be loaded ... and the log is
// empty". On MemFS (EISDIR) as on the OS filesystem.
func TestRecoverNonFileCheckpointNameOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/db"},
		{"os", vfs.Default, filepath.Join(t.TempDir(), "db")},
	} {
		for _, disableLog := range []bool{false, true} {
			sub := tc.name
			if disableLog {
				sub += "/disable-log"
			}
			t.Run(sub, func(t *testing.T) {
				fs := tc.fs
				dir := fs.Join(tc.dir, sub)
				bad := fs.Join(dir, "checkpoints", checkpoint.FileName(7))
				if err := fs.MkdirAll(fs.Join(bad, "sub")); err != nil {
					t.Fatal(err)
				}
				e, err := Open(dir, &Options{FS: fs, CheckpointBytes: -1, DisableLog: disableLog, Clock: testClock()})
				if err != nil {
					t.Fatalf("open with only a directory under a checkpoint's name: %v", err)
				}
				defer e.Close()
				if e.LastLSN() != 0 {
					t.Errorf("LSN %d, want 0", e.LastLSN())
				}
				if !fs.Exists(fs.Join(bad, "sub")) {
					t.Errorf("%s is gone", fs.Join(bad, "sub"))
				}
			})
		}
	}
}

// TestVerifyReplayPassesOverNonFileCheckpointName: VerifyReplay from the
// newest checkpoint starts from the newest checkpoint FILE at or before
// the bus's LSN; a directory put under a newer checkpoint's name is
// passed over, as recovery and Replay pass it over. Before, it was taken
// for the newest checkpoint and the verification failed with
// ErrNoCheckpoint ("not a regular file but a directory").
func TestVerifyReplayPassesOverNonFileCheckpointName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	e := openT(t, dir, &Options{CheckpointBytes: -1})
	ids := mustCreate(t, e, 2, 64)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two"} {
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, s)}); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(dir, "checkpoints", checkpoint.FileName(ck.LSN+1))
	if err := os.MkdirAll(filepath.Join(bad, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.VerifyReplay(ctx, true); err != nil {
		t.Fatalf("verify from the newest checkpoint beside a directory under a newer checkpoint's name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(bad, "sub")); err != nil {
		t.Errorf("the directory's contents: %v", err)
	}
}
