package mmsb

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestSkippedCheckpointsNamedOnce damages every checkpoint of a bus whose
// log no longer starts at LSN 1 (both retained checkpoints, 21 and 31),
// so neither Open nor Replay can recover it, and checks that each says
// why: every damaged checkpoint named once, with the loader's reason.
// Before, Open failed with only the log's "log resumes at LSN 22 but
// state is at LSN 0 (history missing)", not saying that two checkpoints
// had not loaded, and Replay and Recovery.SkippedCheckpoint named each
// file twice ("checkpoint P: mmsb: corruption in P at offset 90: ...").
func TestSkippedCheckpointsNamedOnce(t *testing.T) {
	fs, ckpts := busWithTwoCheckpoints(t)
	o := &Options{FS: fs, SegmentBytes: 4096, CheckpointBytes: -1}
	for _, c := range ckpts {
		f, err := fs.OpenAppend(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.Write([]byte{0})
		_ = f.Close()
	}
	check := func(what, msg string) {
		t.Helper()
		t.Log(msg)
		for _, c := range ckpts {
			if n := strings.Count(msg, c.Path); n != 1 {
				t.Errorf("%s: %q names %s %d times, want once", what, msg, c.Path, n)
			}
		}
		if !strings.Contains(msg, "bytes after the trailer") {
			t.Errorf("%s: %q does not say why the checkpoints did not load", what, msg)
		}
	}
	if b, err := Open("bus", o); err == nil {
		_ = b.Close()
		t.Fatal("Open recovered a bus whose checkpoints are all damaged and whose log starts at LSN 22")
	} else {
		check("Open", err.Error())
	}
	if b, err := Replay(ctx, "bus", ReplayTarget{}, &Options{FS: fs}); err == nil {
		b.Close()
		t.Fatal("Replay rebuilt a bus whose checkpoints are all damaged and whose log starts at LSN 22")
	} else {
		check("Replay", err.Error())
	}
	// With the older checkpoint whole again, Open recovers from it, and
	// Recovery names the newest, damaged one once.
	f, err := fs.OpenAppend(ckpts[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(ckpts[1].Size); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	b, err := Open("bus", o)
	if err != nil {
		t.Fatalf("Open with the older checkpoint whole: %v", err)
	}
	defer b.Close()
	r := b.Recovery()
	if r.Checkpoint != ckpts[1].Path || len(r.SkippedCheckpoint) != 1 {
		t.Fatalf("recovered from %q, skipped %q; want %s, and %s skipped", r.Checkpoint, r.SkippedCheckpoint, ckpts[1].Path, ckpts[0].Path)
	}
	if msg := r.SkippedCheckpoint[0]; strings.Count(msg, ckpts[0].Path) != 1 || !strings.Contains(msg, "bytes after the trailer") {
		t.Errorf("Recovery.SkippedCheckpoint[0] = %q, want %s named once, with the reason", msg, ckpts[0].Path)
	}
}

// busWithTwoCheckpoints writes a bus "bus" in a memory file system whose
// log spans several 4 KiB segments and whose directory keeps two
// checkpoints (newest first), and closes it.
func busWithTwoCheckpoints(t *testing.T) (*vfs.MemFS, []checkpoint.Info) {
	t.Helper()
	fs := vfs.NewMem()
	e, err := Open("bus", &Options{FS: fs, SegmentBytes: 4096, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, e, 1, 1024)[0]
	for range 3 {
		for range 10 { // a new 4 KiB segment every few commits
			d := delta.Delta{Page: id, Runs: []delta.Run{{Data: make([]byte, 1000)}}}
			if _, err := e.Commit(ctx, []delta.Delta{d}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	ckpts, err := checkpoint.List(fs, "bus/checkpoints")
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("checkpoints: %v, %v; want the 2 retained", ckpts, err)
	}
	return fs, ckpts
}
