package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// buildCutLog makes a bus in dir with one page, 40 commits and a
// checkpoint after the 21st, and returns the checkpoint's LSN and the
// path of its only log segment.
func buildCutLog(t *testing.T, dir string) (LSN, string) {
	t.Helper()
	e, err := Open(dir, &Options{CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 64)[0]
	var ckpt LSN
	for i := range 40 {
		if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i%64), []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ckpt = info.LSN
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "wal", "00000000000000000001.log")
	if _, err := os.Stat(seg); err != nil {
		t.Fatalf("the bus's only segment: %v", err)
	}
	return ckpt, seg
}

func truncateHalf(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesTornTailBeforeCheckpoint: a log cut in half, before the
// newest checkpoint's LSN, ends in a damaged record that reads like a
// torn tail. A checkpoint is taken only once the log durably holds its
// LSN, so no crash leaves that cut: Open opened at the checkpoint and
// reported a 7-byte torn tail, the 19 commits after the checkpoint gone
// without a word. Without Repair, Open and Replay refuse it naming the
// segment, where the log ends and the checkpoint's LSN; with Repair, Open
// opens at the checkpoint and reports the commits after it lost. A
// crash's torn tail (the last record half written) still opens silently.
func TestOpenRefusesTornTailBeforeCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ckpt, seg := buildCutLog(t, dir)

	// A crash's torn tail: the last record cut, past the checkpoint.
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	e, err := Open(dir, &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open after a torn last record: %v", err)
	}
	rec := e.Recovery().Log
	if rec.TornBytes == 0 || rec.LostFirstLSN != 0 || e.LastLSN() != 40 {
		t.Errorf("Open after a torn last record: %+v, last LSN %d; want a torn tail, nothing lost, LSN 40", rec, e.LastLSN())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := QueryLogDir(ctx, vfs.Default, dir, LogQuery{}, func(*LoggedOp) bool { return true }); err != nil {
		t.Errorf("QueryLogDir after a torn last record: %v", err)
	}

	if st, err = os.Stat(seg); err != nil {
		t.Fatal(err)
	}
	truncateHalf(t, seg)
	wantSaid := []string{seg, fmt.Sprintf("LSN %d", ckpt)}
	if r, err := Replay(ctx, dir, ReplayTarget{}, nil); err == nil {
		got := r.LastLSN()
		r.discard()
		t.Errorf("Replay of a log cut before checkpoint LSN %d: state at LSN %d; want ErrCorruption", ckpt, got)
	} else if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), fmt.Sprintf("LSN %d", ckpt)) {
		t.Errorf("Replay of a log cut before checkpoint LSN %d: %v; want ErrCorruption naming it", ckpt, err)
	}

	err = QueryLogDir(ctx, vfs.Default, dir, LogQuery{}, func(*LoggedOp) bool { return true })
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), fmt.Sprintf("LSN %d", ckpt)) {
		t.Errorf("QueryLogDir of a log cut before checkpoint LSN %d: %v; want ErrCorruption naming it", ckpt, err)
	}

	e, err = Open(dir, &Options{CheckpointBytes: -1})
	if err == nil {
		rec := e.Recovery().Log
		e.Close()
		t.Fatalf("Open of a log cut before checkpoint LSN %d: opened at LSN %d, %+v; want ErrCorruption", ckpt, e.LastLSN(), rec)
	}
	if !errors.Is(err, ErrCorruption) || !containsAll(err.Error(), wantSaid) {
		t.Errorf("Open of a log cut before checkpoint LSN %d: %v; want ErrCorruption naming %q", ckpt, err, wantSaid)
	}
	if after, err := os.Stat(seg); err != nil || after.Size() != st.Size()/2 {
		t.Errorf("the refused Open changed the segment: %v, %v; want it as it was (%d bytes)", after, err, st.Size()/2)
	}

	e, err = Open(dir, &Options{CheckpointBytes: -1, Repair: true})
	if err != nil {
		t.Fatalf("Open with Repair of a log cut before the checkpoint: %v", err)
	}
	defer e.Close()
	rec = e.Recovery().Log
	if e.LastLSN() != ckpt || rec.LostFirstLSN != ckpt+1 || rec.LostLastLSN != LostLSNUnknown {
		t.Errorf("Open with Repair: LSN %d, %+v; want LSN %d, LostFirstLSN %d, LostLastLSN LostLSNUnknown", e.LastLSN(), rec, ckpt, ckpt+1)
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestReplayBeforeCheckpointWithEmptyLog: a bus opened at a checkpoint
// whose log holds no record (its newest segment empty: after a Repair
// that restarted the log there, or an Open at a checkpoint after which
// the older segments went) has no history before the checkpoint.
// ReadPageAt and Bus.Replay to an LSN before it said the healthy bus was
// corrupt ("the log ends at LSN 0, before checkpoint ..."): the log query
// and, after one more commit, ReadPageAt itself said ErrLogTruncated.
func TestReplayBeforeCheckpointWithEmptyLog(t *testing.T) {
	t.Run("after a repair", func(t *testing.T) {
		dir := t.TempDir()
		ckpt, seg := buildCutLog(t, dir)
		truncateHalf(t, seg)
		e, err := Open(dir, &Options{CheckpointBytes: -1, Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		checkTruncatedBefore(t, e, ckpt)
	})
	t.Run("a removed log", func(t *testing.T) {
		dir := t.TempDir()
		e, err := Open(dir, &Options{CheckpointBytes: -1, SegmentBytes: 256, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 64)[0]
		for i := range 40 {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{1})}); err != nil {
				t.Fatal(err)
			}
		}
		info, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		// The log removed (the checkpoint holds the state): Repair opens
		// at the checkpoint with a log holding no record.
		segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
		if err != nil || len(segs) == 0 {
			t.Fatalf("segments: %v, %v", segs, err)
		}
		for _, s := range segs {
			if err := os.Remove(s); err != nil {
				t.Fatal(err)
			}
		}
		e, err = Open(dir, &Options{CheckpointBytes: -1, Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		checkTruncatedBefore(t, e, info.LSN)
	})
}

// checkTruncatedBefore checks that e, open at checkpoint LSN ckpt with a
// log holding no record, answers reads before it with ErrLogTruncated.
func checkTruncatedBefore(t *testing.T, e *Bus, ckpt LSN) {
	t.Helper()
	if e.LastLSN() != ckpt {
		t.Fatalf("opened at LSN %d, want the checkpoint's %d", e.LastLSN(), ckpt)
	}
	if _, _, err := e.ReadPageAt(ctx, 1, 3); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("ReadPageAt(1, 3) before checkpoint LSN %d with an empty log: %v; want ErrLogTruncated", ckpt, err)
	}
	if r, err := e.Replay(ctx, ReplayTarget{ToLSN: 3}); err == nil {
		r.discard()
		t.Errorf("Replay to LSN 3 before checkpoint LSN %d with an empty log: replayed; want ErrLogTruncated", ckpt)
	} else if !errors.Is(err, ErrLogTruncated) {
		t.Errorf("Replay to LSN 3 before checkpoint LSN %d with an empty log: %v; want ErrLogTruncated", ckpt, err)
	}
}
