// Package tick runs an MMSB bus in ticks: many goroutines Submit deltas into
// a bounded intake ring, and each Tick drains it, validates the deltas one by
// one (Bus.ValidateBatch, so a bad delta is rejected alone), commits the
// valid ones as one batch, propagates the changes to derived pages, runs
// invariant hooks, and publishes events to subscribers.
//
//	orch, err := tick.New(bus, nil)
//	defer orch.Close()
//	err = orch.Submit(ctx, &d)      // from any goroutine
//	res, err := orch.Tick(ctx)      // or orch.Run(ctx, 16*time.Millisecond)
//	sub, err := orch.Subscribe(tick.EventFilter{Pages: ids}, 64, false)
//
// The orchestrator uses only the bus's public methods. Events belong here
// rather than to the bus because they describe a tick: they are built once
// per tick from its result and numbered by it.
//
// As in package mmsb, every method taking a context.Context refuses a nil
// one with mmsb.ErrInvalidOption naming ctx and the method.
package tick
