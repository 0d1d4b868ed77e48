package tick

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// A wave the log refuses as a whole (two 3000-byte derived pages against
// a 4096-byte record limit) applies nothing, tick after tick: Run goes on,
// and EventPropagationFailed is how its caller hears of it. Before, Run
// swallowed the error and published nothing but the committed delta, and
// the derived pages stayed stale for good in silence.
func TestRunReportsRefusedWave(t *testing.T) {
	e := openMem(t, &mmsb.Options{Replicator: limitedReplicator{max: 4096}})
	ids := mustCreate(t, e, 3, 3000)
	for _, child := range ids[1:] {
		if err := e.Bind(ctx, child, "passthrough", nil, []mmsb.PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	sub, err := o.Subscribe(EventFilter{Types: []EventType{EventPropagationFailed, EventRecomputeFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o, mmsb.Write(ids[0], 0, bytes.Repeat([]byte{1}, 3000))) // each child's delta: 3000 bytes
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(rctx, time.Millisecond) }()
	ev := await(t, sub.C, "a propagation-failed event from Run")
	cancel()
	if err := await(t, done, "Run's return after cancel"); err != nil {
		t.Fatalf("Run = %v, want nil (ctx ended; a refused wave does not stop it)", err)
	}
	if ev.Type != EventPropagationFailed || !errors.Is(ev.Err, mmsb.ErrRecordTooLarge) || ev.Type.String() != "propagation-failed" {
		t.Fatalf("event %v (%v), want propagation-failed wrapping ErrRecordTooLarge", ev, ev.Err)
	}
	if n := e.Pending(); n == 0 {
		t.Fatalf("Pending = 0 after the refused waves, want the written page still pending")
	}

	// Control: a wave that fits publishes no such event.
	e2 := openMem(t, nil)
	ids2 := mustCreate(t, e2, 2, 3000)
	if err := e2.Bind(ctx, ids2[1], "passthrough", nil, []mmsb.PageID{ids2[0]}); err != nil {
		t.Fatal(err)
	}
	o2 := newOrch(t, e2, &Options{SkipStartupResync: true})
	sub2, err := o2.Subscribe(EventFilter{Types: []EventType{EventPropagationFailed}}, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	submitAll(t, o2, mmsb.Write(ids2[0], 0, bytes.Repeat([]byte{1}, 3000)))
	if _, err := o2.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sub2.C); n != 0 {
		t.Fatalf("%d propagation-failed events after a wave that applied, want 0", n)
	}
}
