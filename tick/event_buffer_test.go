package tick

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestEventBufferBounded: after a tick that published more than
// maxKeptEvents events (here: committed deltas) the orchestrator keeps no
// event buffer above that bound; it kept one event per delta of its
// largest tick for its life. A smaller tick keeps its buffer for reuse.
func TestEventBufferBounded(t *testing.T) {
	const n = maxKeptEvents + 100
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 8)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true, QueueSize: 2 * n})
	s, err := o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds := make([]delta.Delta, n)
	for i := range ds {
		ds[i] = delta.Delta{Page: id, Runs: []delta.Run{{Data: []byte{byte(i)}}}}
	}
	tick := func(k int) {
		t.Helper()
		if err := o.SubmitBatch(ctx, ds[:k]); err != nil {
			t.Fatal(err)
		}
		r, err := o.Tick(ctx)
		if err != nil || r.Committed != k {
			t.Fatalf("tick of %d deltas: committed %d, %v", k, r.Committed, err)
		}
	}
	tick(n)
	if c := cap(o.events); c > maxKeptEvents {
		t.Fatalf("after a tick of %d events the event buffer keeps capacity %d, want at most %d", n, c, maxKeptEvents)
	}
	tick(1000)
	if c := cap(o.events); c < 1000 {
		t.Fatalf("after a tick of 1000 events the event buffer keeps capacity %d: want it kept for reuse", c)
	}
}
