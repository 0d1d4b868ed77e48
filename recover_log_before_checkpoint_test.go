package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestRecoverLogEndingBeforeCheckpointUncut: a checkpoint is taken only
// once the log durably holds its LSN, so a log that ends before the newest
// checkpoint's LSN although this Open cut nothing from it is not that
// checkpoint's log: a segment is missing, or the checkpoint was copied in
// from another bus. Open restarted the log there all the same: it deleted
// every segment and the bus's own older checkpoints and opened at the
// checkpoint's state (another bus's, in the second case), silently. It must
// refuse with ErrCorruption naming the checkpoint and leave the files as
// they are; Repair opens at the checkpoint. The last record, covered by
// the checkpoint, torn is refused too: the checkpoint proves it durable,
// so no crash tore it, and what followed it is unknown
// (TestOpenRefusesTornTailBeforeCheckpoint); Repair restarts the log.
func TestRecoverLogEndingBeforeCheckpointUncut(t *testing.T) {
	// build makes a bus with one checkpoint after commits commits and
	// after more commits after it, the log in several segments; it
	// returns the checkpoint's path and LSN and the state hash at the
	// checkpoint.
	build := func(t *testing.T, dir string, pages, commits, after int) (string, LSN, uint64) {
		e := openT(t, dir, &Options{SegmentBytes: 256, CheckpointBytes: -1})
		ids := mustCreate(t, e, pages, 8)
		for i := range commits {
			mustCommit(t, e, ids[i%pages], fmt.Sprint(i))
		}
		info, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h := hashOf(t, e)
		for i := range after {
			mustCommit(t, e, ids[i%pages], fmt.Sprint("after", i))
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return info.Path, info.LSN, h
	}
	files := func(t *testing.T, dir string) []string {
		var out []string
		for _, sub := range []string{"wal", "checkpoints"} {
			ents, err := os.ReadDir(filepath.Join(dir, sub))
			if err != nil {
				t.Fatal(err)
			}
			for _, en := range ents {
				out = append(out, sub+"/"+en.Name())
			}
		}
		return out
	}
	segments := func(t *testing.T, dir string) []string {
		var segs []string
		for _, f := range files(t, dir) {
			if strings.HasPrefix(f, "wal/") && strings.HasSuffix(f, ".log") {
				segs = append(segs, filepath.Join(dir, f))
			}
		}
		if len(segs) < 2 {
			t.Fatalf("setup: want several log segments, have %v", segs)
		}
		return segs
	}
	for _, tc := range []struct {
		name string
		// damage changes dir and returns the checkpoint recovery loads
		// and the hash of its state.
		after   int // commits after the checkpoint
		damage  func(t *testing.T, dir, ckpt string, lsn LSN, h uint64) (string, uint64)
		refused bool
	}{
		// The segments from the one holding the checkpoint's LSN on are
		// gone, and with them the commits after it: the restart opened at
		// the checkpoint without a word about them.
		{"segments from the checkpoint's on removed", 8, func(t *testing.T, dir, ckpt string, lsn LSN, h uint64) (string, uint64) {
			segs := segments(t, dir)
			from := 0
			for i, s := range segs {
				if first, ok := tlog.ParseSegmentName(filepath.Base(s)); ok && LSN(first) <= lsn {
					from = i
				}
			}
			if from == 0 {
				t.Fatalf("setup: checkpoint LSN %d in the first segment of %v", lsn, segs)
			}
			for _, s := range segs[from:] {
				if err := os.Remove(s); err != nil {
					t.Fatal(err)
				}
			}
			return ckpt, h
		}, true},
		{"checkpoint of another bus", 0, func(t *testing.T, dir, _ string, _ LSN, _ uint64) (string, uint64) {
			other := t.TempDir()
			path, _, h := build(t, other, 5, 40, 0)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, "checkpoints", filepath.Base(path))
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return dst, h
		}, true},
		{"last record, covered by the checkpoint, torn", 0, func(t *testing.T, dir, ckpt string, _ LSN, h uint64) (string, uint64) {
			segs := segments(t, dir)
			last := segs[len(segs)-1]
			b, err := os.ReadFile(last)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(last, b[:len(b)-3], 0o644); err != nil {
				t.Fatal(err)
			}
			return ckpt, h
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ckpt, lsn, h := build(t, dir, 2, 12, tc.after)
			ckpt, want := tc.damage(t, dir, ckpt, lsn, h)
			before := files(t, dir)
			e, err := Open(dir, &Options{Clock: testClock()})
			if !tc.refused {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer e.Close()
				if got := hashOf(t, e); got != want {
					t.Fatalf("opened with hash %x, want the checkpoint's %x", got, want)
				}
				return
			}
			if err == nil {
				n := e.LastLSN()
				e.Close()
				t.Fatalf("opened at LSN %d; files %v, were %v", n, files(t, dir), before)
			}
			// Segments removed from the newest on: the log's file naming
			// its newest segment says so first (wal/newest-segment).
			// A cut record: recovery says the checkpoint's LSN.
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), ckpt) && !strings.Contains(err.Error(), "newest-segment") && !strings.Contains(err.Error(), fmt.Sprintf("before the checkpoint recovery starts from (LSN %d)", lsn)) {
				t.Fatalf("Open = %v, want ErrCorruption naming %s (or wal/newest-segment, or its LSN %d)", err, ckpt, lsn)
			}
			if after := files(t, dir); !slices.Equal(after, before) {
				t.Fatalf("refused Open changed the files: %v, were %v", after, before)
			}
			e, err = Open(dir, &Options{Clock: testClock(), Repair: true})
			if err != nil {
				t.Fatalf("Open with Repair: %v", err)
			}
			defer e.Close()
			if got := hashOf(t, e); got != want {
				t.Fatalf("Repair opened with hash %x, want the checkpoint's %x", got, want)
			}
			// What the missing part of the log held past the checkpoint is
			// not known (TestRepairReportsLostLSNs).
			if rep := e.Recovery().Log; rep.LostFirstLSN != e.LastLSN()+1 || rep.LostLastLSN != LostLSNUnknown {
				t.Fatalf("lost LSNs %d..%d, want %d..LostLSNUnknown", rep.LostFirstLSN, rep.LostLastLSN, e.LastLSN()+1)
			}
		})
	}
}
