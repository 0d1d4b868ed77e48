package tick

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCheckpointFailureEvent pins issue 7 item 8 (surfacing checkpoint
// failures): a failed checkpoint (automatic ones fail in the background,
// where nobody sees the error) is published once, at the next tick, as an
// EventCheckpointFailed carrying the error.
func TestCheckpointFailureEvent(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(errorfs.OpCreate, errorfs.ErrInjected)))
	e, err := mmsb.Open("/db", &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Clock: testClock(), CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	o := newOrch(t, e, nil)
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventCheckpointFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := e.Checkpoint(ctx); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Checkpoint with its file creation failing: %v", err)
	}
	for i := 0; i < 2; i++ {
		if _, err := o.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(sub.C); n != 1 {
		t.Fatalf("%d checkpoint-failed events after one failure and two ticks, want 1", n)
	}
	if ev := <-sub.C; ev.Type != EventCheckpointFailed || ev.Tick != 1 || !errors.Is(ev.Err, errorfs.ErrInjected) {
		t.Fatalf("event %v (tick %d), want checkpoint-failed at tick 1 wrapping the injected error", ev, ev.Tick)
	}
}
