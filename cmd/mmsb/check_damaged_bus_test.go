package main

import (
	"context"
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
		// No log-mode file: written before it existed, or lost.
		{"wal/ emptied, no log-mode", false, func(t *testing.T, dir string) {
			removeAll(t, dir, "wal")
			noLogMode(t, dir)
		}, "files were lost or renamed"},
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
