package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckReportsDamagedBusAsDamage: check is what an operator runs on a
// damaged directory. The refusal of a directory in which no bus ran
// (requireBusFiles) refused a bus whose files a bad disk or a wrong mv
// had taken, where no log-mode file was left (a directory written before
// that file existed, or one whose checkpoints/ was lost), as "no bus ran
// there (another program's directory?)". Each row makes a real bus,
// damages it, and wants check to fail naming the damage, never calling it
// another program's directory.
func TestCheckReportsDamagedBusAsDamage(t *testing.T) {
	ctx := context.Background()
	// each calls fn on every file of DIR/sub.
	each := func(t *testing.T, dir, sub string, fn func(path string)) {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			fn(filepath.Join(dir, sub, e.Name()))
		}
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	removeAll := func(t *testing.T, dir, sub string) {
		each(t, dir, sub, func(p string) { must(t, os.RemoveAll(p)) })
	}
	renameAll := func(t *testing.T, dir, sub, suffix string) {
		each(t, dir, sub, func(p string) {
			if filepath.Base(p) != "log-mode" {
				must(t, os.Rename(p, p+suffix))
			}
		})
	}
	noLogMode := func(t *testing.T, dir string) {
		must(t, os.Remove(filepath.Join(dir, "checkpoints", "log-mode")))
	}
	for _, tc := range []struct {
		name       string
		checkpoint bool
		damage     func(t *testing.T, dir string)
		want       string // in check's output
	}{
		{"wal/ emptied", true, func(t *testing.T, dir string) { removeAll(t, dir, "wal") },
			"holds no log segment"},
		{"segments renamed", true, func(t *testing.T, dir string) { renameAll(t, dir, "wal", ".bak") },
			"holds no log segment"},
		{"only checkpoints/ left", true, func(t *testing.T, dir string) { must(t, os.RemoveAll(filepath.Join(dir, "wal"))) },
			"no wal/"},
		{"segment with a damaged header", false, func(t *testing.T, dir string) {
			each(t, dir, "wal", func(p string) {
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				must(t, err)
				_, err = f.WriteAt([]byte("XXXX"), 0)
				must(t, err)
				must(t, f.Close())
			})
		}, "PROBLEM"},
		// No checkpoint, log-mode "log": the first Open with a log
		// writes it only once its first segment is durable, and the log
		// keeps a segment ever after, so the segments were lost. Check
		// said OK (an empty bus) until 2026-12-07.
		{"wal/ emptied, no checkpoint", false, func(t *testing.T, dir string) { removeAll(t, dir, "wal") },
			"the bus's files are lost"},
		{"wal/ removed, no checkpoint", false, func(t *testing.T, dir string) { must(t, os.RemoveAll(filepath.Join(dir, "wal"))) },
			"the bus's files are lost"},
		// No log-mode file: written before it existed, or lost. (wal/
		// emptied, no log-mode and no checkpoint leaves LOCK beside an
		// empty wal/ and checkpoints/: a bus that held nothing too, as
		// a first Open that stopped early or the way out of lost files
		// leaves it, which Open opens as a new bus: check accepts it
		// with a warning, TestLockAloneIsNoBusTrace and
		// TestLostFilesWayOut.)
		{"segments renamed, checkpoints/ lost", false, func(t *testing.T, dir string) {
			renameAll(t, dir, "wal", ".bak")
			must(t, os.RemoveAll(filepath.Join(dir, "checkpoints")))
		}, ".log.bak remain"},
		{"only a .log.del leftover, no log-mode", false, func(t *testing.T, dir string) {
			renameAll(t, dir, "wal", ".del")
			noLogMode(t, dir)
		}, ".log.del remain"},
		{"checkpoints only as .tmp, no log-mode, wal/ emptied", true, func(t *testing.T, dir string) {
			renameAll(t, dir, "checkpoints", ".tmp")
			noLogMode(t, dir)
			removeAll(t, dir, "wal")
		}, ".ckpt.tmp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			bus, err := mmsb.Open(dir, nil)
			must(t, err)
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				bus.Close()
				t.Fatal(err)
			}
			if tc.checkpoint {
				if _, err := bus.Checkpoint(ctx); err != nil {
					bus.Close()
					t.Fatal(err)
				}
			}
			must(t, bus.Close())
			tc.damage(t, dir)
			r := runCLI(t, "check", dir)
			out := r.stdout + r.stderr
			if r.code != exitFailure || strings.Contains(out, "no bus ran there") || strings.Contains(out, "another program") ||
				!strings.Contains(out, tc.want) {
				t.Errorf("check of a damaged bus: exit %d, want %d, the damage named (%q), not another program's directory:\n%s\nfiles: %q",
					r.code, exitFailure, tc.want, out, listTree(t, dir))
			}
		})
	}
}

// TestNewBusPassesEveryCommand: a bus opened once and closed, nothing
// committed (with its log: checkpoints/log-mode "log" and one empty
// segment; without: "no log" and an empty wal/), is a whole bus to every
// command that reads a directory: check, inspect, graph and checkpoint
// (then check again) exit 0. The refusal of a log-mode "log" beside no
// segment and no checkpoint (the bus's files lost) must not take it, nor
// the refusal of a directory in which no bus ran.
func TestNewBusPassesEveryCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *mmsb.Options
	}{
		{"with a log", nil},
		{"without a log", &mmsb.Options{DisableLog: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			bus, err := mmsb.Open(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"check"}, {"inspect"}, {"graph"}, {"checkpoint"}, {"check"}} {
				r := runCLI(t, append(args, dir)...)
				if r.code != exitOK {
					t.Fatalf("mmsb %s of a new bus: exit %d, want %d:\n%s%s\nfiles: %q", args[0], r.code, exitOK, r.stdout, r.stderr, listTree(t, dir))
				}
			}
		})
	}
}

// TestCheckDanglingLogLink: a bus whose wal/ is a symbolic link to a disk
// that is not mounted lost nothing: the log is out of reach. check read
// the link as a missing wal/ and said the log was removed (with a
// checkpoint) or the bus's files lost (without one), to be accepted with
// Options.Repair, whose Open then failed at making wal/. It fails (exit 1)
// saying the log is out of reach, and nowhere that it was lost or
// removed; with the disk back, check says OK.
func TestCheckDanglingLogLink(t *testing.T) {
	ctx := context.Background()
	for _, checkpoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint %v", checkpoint), func(t *testing.T) {
			root := t.TempDir()
			dir, disk := filepath.Join(root, "data"), filepath.Join(root, "disk")
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				bus.Close()
				t.Fatal(err)
			}
			if checkpoint {
				if _, err := bus.Checkpoint(ctx); err != nil {
					bus.Close()
					t.Fatal(err)
				}
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			wal := filepath.Join(dir, "wal")
			if err := os.MkdirAll(disk, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(wal, filepath.Join(disk, "wal")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(disk, "wal"), wal); err != nil {
				t.Skipf("no symbolic links here: %v", err)
			}
			if err := os.Rename(disk, disk+".unmounted"); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "check", dir)
			out := r.stdout + r.stderr
			if r.code != exitFailure || !strings.Contains(out, "out of reach") ||
				strings.Contains(out, "lost, and") || strings.Contains(out, "files were lost") || strings.Contains(out, "was removed") || strings.Contains(out, "were removed") {
				t.Fatalf("check of a bus whose wal/ links to an unmounted disk: exit %d, want %d, saying the log is out of reach and not that it was lost or removed:\n%s",
					r.code, exitFailure, out)
			}
			if err := os.Rename(disk+".unmounted", disk); err != nil {
				t.Fatal(err)
			}
			runCLI(t, "check", dir).mustCode(t, exitOK)
		})
	}
}
