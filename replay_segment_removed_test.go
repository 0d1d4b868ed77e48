package mmsb

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestReplaySegmentRemovedWhileRead: Replay lists the checkpoints and
// the log, then opens the segments; a checkpoint of the bus writing the
// directory can be written and trim the log in between. Replay failed
// with the bare "no such file" of the open (or a gap in the log), where
// its doc says it reads while a live bus writes. Now it starts again,
// from the checkpoint that trimmed the log.
func TestReplaySegmentRemovedWhileRead(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	commit := func(n int) {
		for i := range n {
			if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit(50)
	older, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit(300)
	newer, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commit(20)
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	// The segments the newer checkpoint covers whole (the next one starts
	// at or before its LSN + 1): a checkpoint's retention may trim them.
	var segs, covered []string
	for _, n := range names {
		if isSegmentName(n) {
			segs = append(segs, mem.Join("/db/wal", n))
		}
	}
	segFirst := func(path string) LSN {
		n, err := strconv.ParseUint(strings.TrimSuffix(path[strings.LastIndex(path, "/")+1:], ".log"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return LSN(n)
	}
	var target string // the segment holding the LSN after the older checkpoint's
	for i, s := range segs {
		if i+1 < len(segs) && segFirst(segs[i+1]) <= newer.LSN+1 {
			covered = append(covered, s)
		}
		if segFirst(s) <= older.LSN+1 && (i+1 == len(segs) || segFirst(segs[i+1]) > older.LSN+1) {
			target = s
		}
	}
	if target == "" || !slices.Contains(covered, target) {
		t.Fatalf("segments %v: the one after LSN %d (%q) is not covered by the checkpoint at LSN %d", segs, older.LSN, target, newer.LSN)
	}
	newerBytes := testutil.ReadFile(t, mem, newer.Path)

	{
		kind := errorfs.OpOpen
		fs := mem.CrashClone() // the closed bus synced everything
		// The directory as a replay finds it before the newer checkpoint.
		if err := fs.Remove(newer.Path); err != nil {
			t.Fatal(err)
		}
		var trimmed atomic.Bool
		efs := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if op.Kind == kind && op.Path == target && !trimmed.Swap(true) {
				// The newer checkpoint is written, and its retention
				// trims the segments it covers.
				writeMemFile(t, fs, newer.Path, newerBytes)
				for _, s := range covered {
					if err := fs.Remove(s); err != nil {
						t.Error(err)
					}
				}
			}
			return nil
		}))
		r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: efs})
		if !trimmed.Load() {
			t.Fatalf("the replay never opened %s", target)
		}
		if err != nil {
			t.Fatalf("Replay with the log trimmed by a checkpoint while it read it: %v; want the state at LSN %d", err, last)
		}
		if r.LastLSN() != last || r.Recovery().Checkpoint != newer.Path {
			t.Errorf("Replay: LSN %d from %q; want LSN %d from %q", r.LastLSN(), r.Recovery().Checkpoint, last, newer.Path)
		}
		r.discard()
	}
}

func writeMemFile(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path)
	if err != nil {
		t.Error(err)
		return
	}
	if _, err := f.Write(b); err != nil {
		t.Error(err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}
