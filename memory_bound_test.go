package mmsb

import (
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestInMemoryBusMemoryBound checks what an in-memory bus keeps in RAM
// besides its pages: by default the log since its last checkpoint and no
// checkpoint at all (they are unnamed scratch files: nothing appears in
// $TMPDIR); with MemoryCheckpoints one checkpoint and that log,
// however many checkpoints it has taken. Replay from the checkpoint still
// equals the live state. Each bound has a negative control that must
// exceed it: MemoryCheckpoints for the first (its RAM holds a checkpoint)
// and a bus in a directory for the second (it keeps two checkpoints).
func TestInMemoryBusMemoryBound(t *testing.T) {
	const pages, pageSize, segment = 2000, 1024, 64 << 10
	const ckptEvery = 40 // batches of 100 deltas (about 100 KiB of log) between checkpoints
	for _, tc := range []struct {
		name       string
		dir        string
		memCkpts   bool
		wantNoCkpt bool // RAM holds no checkpoint
		wantOne    bool // RAM holds at most one checkpoint
	}{
		{"in-memory bus", "", false, true, true},
		{"in-memory bus, MemoryCheckpoints (negative control of the first bound)", "", true, false, true},
		{"bus in a directory (negative control of the second bound)", "/db", false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			mem := vfs.NewMem()
			opts := &Options{Clock: testClock(), SegmentBytes: segment, CheckpointBytes: -1, MemoryCheckpoints: tc.memCkpts}
			if tc.dir != "" {
				opts.FS = mem
			}
			e := openT(t, tc.dir, opts)
			defer e.Close()
			if tc.dir == "" {
				mem = e.mem
			}
			ids := mustCreate(t, e, pages, pageSize)
			var info CheckpointInfo
			for b := 1; b <= 5*ckptEvery; b++ {
				ds := make([]delta.Delta, 100)
				for i := range ds {
					ds[i] = w(ids[(b*131+i*17)%pages], (b*7+i)%1000, "0123456789abcdef")
				}
				if _, err := e.Commit(ctx, ds); err != nil {
					t.Fatal(err)
				}
				if b%ckptEvery == 0 {
					var err error
					if info, err = e.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The log written since the checkpoint and at most two partly
			// covered segments; plus the checkpoint for the second bound.
			noCkpt := int64(e.Stats().Log.Bytes-e.lastCkptBytes.Load()) + 2*segment
			one := noCkpt + info.Bytes
			used := mem.Usage()
			t.Logf("RAM files %d bytes; one checkpoint %d bytes; bounds %d and %d", used, info.Bytes, noCkpt, one)
			if got := used <= noCkpt; got != tc.wantNoCkpt {
				t.Fatalf("RAM files hold %d bytes, bound without a checkpoint %d: within %v, want %v", used, noCkpt, got, tc.wantNoCkpt)
			}
			if got := used <= one; got != tc.wantOne {
				t.Fatalf("RAM files hold %d bytes, bound with one checkpoint (%d bytes) %d: within %v, want %v",
					used, info.Bytes, one, got, tc.wantOne)
			}
			if list, err := checkpoint.List(e.FS(), e.CheckpointDir()); err != nil || len(list) != e.retainedCheckpoints() {
				t.Fatalf("checkpoints listed: %v, %v", list, err)
			}
			if names, err := os.ReadDir(tmp); err != nil || len(names) != 0 {
				t.Fatalf("$TMPDIR holds %d named files (%v): scratch files must have no name", len(names), err)
			}
			rep, err := e.VerifyReplay(ctx, true)
			if err != nil || !rep.Equal() || rep.CheckpointLSN != info.LSN {
				t.Fatalf("replay from the checkpoint: %v, equal %v, from LSN %d (want %d)", err, rep.Equal(), rep.CheckpointLSN, info.LSN)
			}
		})
	}
}

// TestInMemoryCheckpointScratchFailure covers an in-memory bus without a
// usable $TMPDIR. Missing when the bus opens: it keeps its checkpoints in
// RAM by itself, and they succeed (the control: the RAM files then hold
// the checkpoint). Gone after it opened: the checkpoint fails with an
// error that names Options.MemoryCheckpoints. Either way commits go on,
// nothing is lost, and replay equals the live state.
func TestInMemoryCheckpointScratchFailure(t *testing.T) {
	for _, goneLater := range []bool{false, true} {
		tmp := t.TempDir() + "/tmp"
		if goneLater {
			if err := os.Mkdir(tmp, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv("TMPDIR", tmp)
		e := openT(t, "", &Options{Clock: testClock(), CheckpointBytes: -1})
		if goneLater {
			if err := os.Remove(tmp); err != nil {
				t.Fatal(err)
			}
		}
		ids := mustCreate(t, e, 4, 64)
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "abc")}); err != nil {
			t.Fatal(err)
		}
		info, err := e.Checkpoint(ctx)
		if goneLater {
			if err == nil || !strings.Contains(err.Error(), "MemoryCheckpoints") {
				t.Fatalf("checkpoint after $TMPDIR went away: %v, want an error naming Options.MemoryCheckpoints", err)
			}
		} else {
			if err != nil {
				t.Fatalf("checkpoint with no $TMPDIR at open: %v, want it kept in RAM", err)
			}
			if used := e.mem.Usage(); used < info.Bytes {
				t.Fatalf("RAM files hold %d bytes, less than the %d-byte checkpoint: it is not in RAM", used, info.Bytes)
			}
		}
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[1], 0, "def")}); err != nil {
			t.Fatalf("commit after the checkpoint: %v", err)
		}
		if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
			t.Fatalf("replay: %v", err)
		}
		e.Close()
	}
}
