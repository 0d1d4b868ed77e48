package mmsb

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// A failed checkpoint says "checkpoint" once and names its file: the bus
// prefixed package checkpoint's errors, which say "checkpoint: " already
// ("mmsb: checkpoint: checkpoint: create bus/checkpoints/...").
func TestCheckpointErrorsSayCheckpointOnce(t *testing.T) {
	cases := []struct {
		kind errorfs.OpKind
		verb string // what the message says failed
	}{
		{errorfs.OpCreate, "create"},
		{errorfs.OpWrite, "write"},
		{errorfs.OpSync, "fsync"},
		{errorfs.OpRename, "rename"},
		{errorfs.OpClose, "close"},
	}
	for _, c := range cases {
		t.Run(c.verb, func(t *testing.T) {
			toggle := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(c.kind, errorfs.ErrInjected)))
			e, err := Open("bus", &Options{FS: errorfs.Wrap(vfs.NewMem(), toggle), CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			mustCreate(t, e, 3, 64)
			toggle.On()
			_, err = e.Checkpoint(ctx)
			toggle.Off()
			if !errors.Is(err, errorfs.ErrInjected) {
				t.Fatalf("Checkpoint = %v, want the injected error", err)
			}
			msg := err.Error()
			if strings.Count(msg, "checkpoint: ") != 1 || !strings.HasPrefix(msg, "mmsb: checkpoint: "+c.verb+" ") ||
				!strings.Contains(msg, "checkpoints/checkpoint-") {
				t.Fatalf("Checkpoint error %q: want one \"checkpoint: \", then %q and the file", msg, c.verb)
			}
		})
	}
	// The bus's own reasons get the prefix (control: not left bare).
	e := openMem(t, nil)
	mustCreate(t, e, 1, 64)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Checkpoint(cancelled); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Checkpoint(cancelled) = %v", err)
	} else if strings.Count(err.Error(), "checkpoint") > 1 {
		t.Fatalf("Checkpoint(cancelled) = %q", err)
	}
}
