package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestCloseReleasesSubmitWaitingForRoom: a Submit that finds the queue full
// and is about to wait for room when Close runs returns ErrClosed. Close
// replaced the wake channel before the submitter read it, so the submitter
// waited on the fresh channel, which no tick would ever close, until its
// context ended.
func TestCloseReleasesSubmitWaitingForRoom(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 64)[0]
	o := newOrch(t, e, &Options{QueueSize: 2, SkipStartupResync: true})
	d := mmsb.Write(id, 0, []byte{1})
	for range 2 {
		if err := o.Submit(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	// Close between the submitter's failed attempt and its wait: the
	// window the hook opens is otherwise a few instructions wide.
	testHookBeforeWait = func() { o.Close() }
	defer func() { testHookBeforeWait = nil }()
	// The deadline only bounds a failing run.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := o.Submit(sctx, &d); !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("Submit waiting for room when Close ran returned %v, want ErrClosed", err)
	}
}
