package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestRunReportsRefusedCommits: a tick whose commit the bus refuses (here
// a follower, which takes writes only from its leader) keeps its deltas
// and publishes EventCommitFailed with the reason. Run goes on after such
// refusals, and before this event its caller had no way to hear of them:
// the deltas stayed kept, tick after tick, in silence. The control: a
// tick that commits publishes no such event.
func TestRunReportsRefusedCommits(t *testing.T) {
	follower := openMem(t, &mmsb.Options{Follower: true})
	o := newOrch(t, follower, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventCommitFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(1, 0, []byte{1})
	submitAll(t, o, d)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(rctx, time.Millisecond) }()
	ev := await(t, sub.C, "a commit-failed event from Run")
	cancel()
	if err := await(t, done, "Run's return after cancel"); err != nil {
		t.Fatalf("Run = %v, want nil (ctx ended; a follower's refusal does not stop it)", err)
	}
	if ev.Type != EventCommitFailed || !errors.Is(ev.Err, mmsb.ErrFollower) || ev.Type.String() != "commit-failed" {
		t.Fatalf("event %v (%v), want commit-failed wrapping ErrFollower", ev, ev.Err)
	}
	if o.QueueLen() != 1 {
		t.Fatalf("QueueLen %d after the refused commits, want 1 (the delta kept)", o.QueueLen())
	}

	leader := openMem(t, nil)
	id := mustCreate(t, leader, 1, 8)[0]
	o2 := newOrch(t, leader, &Options{SkipStartupResync: true})
	sub2, err := o2.Subscribe(EventFilter{Types: []EventType{EventCommitFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o2, mmsb.Write(id, 0, []byte{1}))
	if _, err := o2.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sub2.C); n != 0 {
		t.Fatalf("%d commit-failed events after a tick that committed, want 0", n)
	}
}
