package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestServeLogsWhatRecoveryDid: `mmsb serve` restarted on a directory whose
// last record is torn and whose newest checkpoint is damaged recovered (as
// documented: the tail cut, the older checkpoint and the log used) and
// logged nothing of either, so that an operator restarting it after a
// crash or on a failing disk learnt nothing. It logs a warning for each,
// naming the file, and serves.
func TestServeLogsWhatRecoveryDid(t *testing.T) {
	dir, bus, commit := openWriter(t)
	if _, err := bus.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	commit(2)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	ckpts, err := checkpoint.List(vfs.Default, filepath.Join(dir, "checkpoints"))
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("want two checkpoints, got %v (%v)", ckpts, err)
	}
	flipByte(t, ckpts[0].Path, ckpts[0].Size/2) // List: newest first
	segs := segmentFiles(t, dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-5); err != nil { // the last record torn
		t.Fatal(err)
	}

	_, stderr, stop := startServe(t, "--dir", dir, "--addr", "127.0.0.1:0")
	stop()
	out := stderr.String()
	for _, want := range []string{"recovery truncated a torn tail", last, "recovery passed over a checkpoint that does not load", ckpts[0].Path} {
		if !strings.Contains(out, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, out)
		}
	}
}
