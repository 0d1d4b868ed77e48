package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

// TestDrainClosedWaitEndsWithCtx: Drain on an orchestrator closed while a
// tick still runs (here stopped in a recompute function: the graceful stop
// of a server with a deadline) waits for that tick only until its ctx
// ends, then returns the deltas still waiting with ErrClosed and ctx's
// error. It waited for the tick whatever ctx said: for as long as the
// function ran, and for ever when the caller was that tick's own
// invariant hook.
func TestDrainClosedWaitEndsWithCtx(t *testing.T) {
	sum, _ := semiring.Lookup("f64.sum")
	entered, release := make(chan struct{}, 1), make(chan struct{})
	e := openMem(t, &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{
		"block": func(in [][]byte, params, out []byte) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return sum(in, params, out)
		},
	}})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "block", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	submitAll(t, o, f64Write(ids[0], 1))
	tickDone := make(chan error, 1)
	go func() { _, err := o.Tick(ctx); tickDone <- err }()
	await(t, entered, "the tick's wave calling the function")
	submitAll(t, o, f64Write(ids[0], 2)) // queued behind the running tick
	_ = o.Close()

	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	type drained struct {
		left int
		err  error
	}
	got := make(chan drained, 1)
	go func() { left, err := o.Drain(dctx); got <- drained{left, err} }()
	var d drained
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Drain on the closed orchestrator still waits for the running tick 10 s after its ctx ended")
	}
	if d.left != 1 || !errors.Is(d.err, mmsb.ErrClosed) || !errors.Is(d.err, context.DeadlineExceeded) {
		t.Fatalf("Drain = %d, %v; want 1 waiting (the queued delta), ErrClosed and DeadlineExceeded", d.left, d.err)
	}
	close(release)
	if err := await(t, tickDone, "the tick's end"); err != nil {
		t.Fatalf("the running tick: %v", err)
	}
	if left, err := o.Drain(ctx); left != 1 || !errors.Is(err, mmsb.ErrClosed) {
		t.Fatalf("Drain once the tick ended = %d, %v; want 1 dropped, ErrClosed", left, err)
	}
}

// TestDrainClosedDoneCtxTakesFreeLock: Drain on a closed orchestrator with
// no tick running counts what Close dropped, whatever its ctx says, as
// lockTick takes a free lock: one kept by a tick over a closed bus and two
// queued, three dropped, ErrClosed alone. It chose at random between the
// free lock and a ctx already done, and half the time answered the ctx's
// error with the kept delta left out (1 dropped).
func TestDrainClosedDoneCtxTakesFreeLock(t *testing.T) {
	e := openMem(t, nil)
	id := mustCreate(t, e, 1, 8)[0]
	o := newOrch(t, e, &Options{SkipStartupResync: true})
	submitAll(t, o, mmsb.Write(id, 0, []byte{1}))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if r, err := o.Tick(ctx); !errors.Is(err, mmsb.ErrClosed) || r.Kept != 1 {
		t.Fatalf("tick over a closed bus: %v, want ErrClosed and 1 kept", err)
	}
	submitAll(t, o, mmsb.Write(id, 0, []byte{2}), mmsb.Write(id, 0, []byte{3}))
	_ = o.Close()
	done, cancel := context.WithCancel(ctx)
	cancel()
	for i := range 32 {
		left, err := o.Drain(done)
		if left != 3 || !errors.Is(err, mmsb.ErrClosed) || errors.Is(err, context.Canceled) {
			t.Fatalf("Drain %d with a done ctx and no tick running = %d, %v; want 3 dropped, ErrClosed alone", i, left, err)
		}
	}
}
