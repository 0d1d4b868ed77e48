package mmsb

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenRefusesOnlySegmentCutToHeader: the log's only segment, cut to
// exactly its 24-byte header (whole, no record), read as the state a
// crash leaves just after a segment is made, and Open dropped it and
// made the segment where the checkpoint continues (the path a replica's
// bootstrap takes: a checkpoint beside a new bus's segment 1), opening at
// the checkpoint (or empty) and reporting nothing lost. A segment is made
// only where the log continues, so an only one named past where the log
// continues follows a gap (the segments before it removed): damage now,
// as the same segment with a torn header is, and Repair reports the loss.
//
// Controls: the only segment named for the LSN after the checkpoint's
// (a crash after a restart, or the checkpoint's own rotation) and segment
// 1 beside a checkpoint (a replica's bootstrap; the files cannot tell it
// from segment 1 cut to its header, docs/crash.md) still open.
func TestOpenRefusesOnlySegmentCutToHeader(t *testing.T) {
	// build writes a bus whose log rotates every few commits, takes a
	// checkpoint after ckptAfter commits (none: -1), commits up to total,
	// and returns the checkpoint's LSN and the segments.
	build := func(t *testing.T, ckptAfter, total int) (string, LSN, LSN, []string) {
		dir := t.TempDir()
		e, err := Open(dir, &Options{CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 4096)[0]
		var ckpt LSN
		for i := range total {
			if i == ckptAfter {
				info, err := e.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ckpt = info.LSN
			}
			if _, err := e.Commit(ctx, []Delta{Write(id, 0, make([]byte, 1000+i))}); err != nil {
				t.Fatal(err)
			}
		}
		if ckptAfter == total {
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ckpt = info.LSN
		}
		last := e.LastLSN()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(segs)
		return dir, ckpt, last, segs
	}
	cutToHeader := func(t *testing.T, segs []string) string {
		t.Helper()
		for _, s := range segs[:len(segs)-1] {
			if err := os.Remove(s); err != nil {
				t.Fatal(err)
			}
		}
		newest := segs[len(segs)-1]
		if err := os.Truncate(newest, tlog.SegmentHeaderSize); err != nil {
			t.Fatal(err)
		}
		return newest
	}
	firstOf := func(t *testing.T, seg string) LSN {
		t.Helper()
		first, ok := tlog.ParseSegmentName(filepath.Base(seg))
		if !ok {
			t.Fatalf("%s: no segment name", seg)
		}
		return first
	}
	refused := func(t *testing.T, dir, seg string, wantFrom LSN) {
		t.Helper()
		e, err := Open(dir, &Options{CheckpointBytes: -1})
		if err == nil {
			t.Errorf("Open of %s cut to its header: opened at LSN %d, lost %d..%d; want ErrCorruption naming it",
				seg, e.LastLSN(), e.Recovery().Log.LostFirstLSN, e.Recovery().Log.LostLastLSN)
			e.Close()
			return
		}
		if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), seg) {
			t.Fatalf("Open: %v, want ErrCorruption naming %s", err, seg)
		}
		e, err = Open(dir, &Options{CheckpointBytes: -1, Repair: true})
		if err != nil {
			t.Fatalf("Open with Repair: %v", err)
		}
		defer e.Close()
		if rec := e.Recovery().Log; rec.LostFirstLSN != wantFrom || rec.LostFirstLSN != e.LastLSN()+1 || rec.LostLastLSN == 0 {
			t.Errorf("Open with Repair: LSN %d, lost %d..%d; want the loss from LSN %d reported", e.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN, wantFrom)
		}
	}

	t.Run("named for the LSN after the checkpoint (control)", func(t *testing.T) {
		// One commit after the checkpoint, cut away with the record: a
		// crash just after the checkpoint's rotation leaves the same
		// files (docs/crash.md: not told apart).
		dir, ckpt, _, segs := build(t, 12, 13)
		if first := firstOf(t, segs[len(segs)-1]); first != ckpt+1 {
			t.Fatalf("segments %v beside checkpoint LSN %d: want the newest named for LSN %d", segs, ckpt, ckpt+1)
		}
		cutToHeader(t, segs)
		e, err := Open(dir, &Options{CheckpointBytes: -1})
		if err != nil {
			t.Fatalf("Open of a bus whose only segment holds its header, named for LSN %d (checkpoint LSN %d): %v", firstOf(t, segs[len(segs)-1]), ckpt, err)
		}
		defer e.Close()
		if e.LastLSN() != ckpt || e.Recovery().Log.LostFirstLSN != 0 {
			t.Errorf("Open: LSN %d, lost %d; want LSN %d, nothing lost", e.LastLSN(), e.Recovery().Log.LostFirstLSN, ckpt)
		}
	})
	t.Run("segment 1 beside the checkpoint (control)", func(t *testing.T) {
		// A replica's bootstrap: the stored checkpoint put beside a new
		// bus's segment 1 (docs/crash.md: not told from segment 1 cut to
		// its header).
		dir, ckpt, _, segs := build(t, 12, 16)
		for _, s := range segs {
			if err := os.Remove(s); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(filepath.Join(dir, "wal", tlog.NewestFileName)); err != nil {
			t.Fatal(err)
		}
		if err := tlog.CreateEmptySegment(vfs.Default, filepath.Join(dir, "wal"), 1); err != nil {
			t.Fatal(err)
		}
		e, err := Open(dir, &Options{CheckpointBytes: -1})
		if err != nil {
			t.Fatalf("Open of a checkpoint beside segment 1 holding its header: %v", err)
		}
		defer e.Close()
		if e.LastLSN() != ckpt || e.Recovery().Log.LostFirstLSN != 0 {
			t.Errorf("Open: LSN %d, lost %d; want LSN %d, nothing lost", e.LastLSN(), e.Recovery().Log.LostFirstLSN, ckpt)
		}
	})
	t.Run("named past where the log continues, no checkpoint", func(t *testing.T) {
		dir, _, _, segs := build(t, -1, 12)
		seg := segs[len(segs)-1]
		if firstOf(t, seg) <= 1 {
			t.Fatalf("segments %v: want a rotation", segs)
		}
		refused(t, dir, cutToHeader(t, segs), 1)
	})
	t.Run("named past where the log continues, beside a checkpoint", func(t *testing.T) {
		// The checkpoint's segment (ckpt+1) and the ones after it
		// removed but the newest, cut to its header.
		dir, ckpt, _, segs := build(t, 12, 30)
		seg := segs[len(segs)-1]
		if first := firstOf(t, seg); first <= ckpt+1 {
			t.Fatalf("segments %v beside checkpoint LSN %d: want the newest past LSN %d", segs, ckpt, ckpt+1)
		}
		refused(t, dir, cutToHeader(t, segs), ckpt+1)
	})
}
