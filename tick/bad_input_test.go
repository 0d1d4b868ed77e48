package tick

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// boundedCall runs call on its own goroutine, turning a panic into an
// error, and fails the test if it has not returned within d: a hang is a
// failure, not a test that never ends.
func boundedCall(t *testing.T, d time.Duration, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("panic: %v", v)
			}
		}()
		done <- call()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
		return nil
	}
}

// caseError is a case's own failure: it wraps nothing, so that it never
// passes for the error a case wants.
type caseError string

func (e caseError) Error() string { return string(e) }

func failf(format string, args ...any) error { return caseError(fmt.Sprintf(format, args...)) }

// TestTickBadInput feeds the orchestrator what a caller may pass it
// wrongly: options, deltas, hooks, filters, calls after Close, a context
// that ends, subscriptions nobody reads. Each case must return within its
// bound, without a panic, with an error wrapping the sentinel it names and
// saying what was wrong (or, where want is nil, with the defined behaviour
// it checks itself). What a case saw before its fix is in its comment; the
// others passed already and guard the checks that were there.
func TestTickBadInput(t *testing.T) {
	const bound = 10 * time.Second
	type env struct {
		bus *mmsb.Bus
		o   *Orchestrator
		id  mmsb.PageID // an 8-byte page
	}
	cases := []struct {
		name string
		opts *Options
		call func(t *testing.T, e env) error
		want error  // nil: no error
		says string // in the error
	}{
		{name: "New over a nil bus", call: func(*testing.T, env) error {
			_, err := New(nil, nil)
			return err
		}, want: mmsb.ErrInvalidOption, says: "nil bus"},
		{name: "negative QueueSize", call: func(_ *testing.T, e env) error {
			_, err := New(e.bus, &Options{QueueSize: -1})
			return err
		}, want: mmsb.ErrInvalidOption, says: "negative"},
		{name: "negative Budget", call: func(_ *testing.T, e env) error {
			_, err := New(e.bus, &Options{Budget: -time.Second})
			return err
		}, want: mmsb.ErrInvalidOption, says: "negative"},
		{name: "huge QueueSize", call: func(_ *testing.T, e env) error {
			_, err := New(e.bus, &Options{QueueSize: math.MaxInt})
			return err
		}, want: mmsb.ErrInvalidOption, says: "over its limit"},
		{name: "huge MaxBatch and Budget are fine", call: func(_ *testing.T, e env) error {
			o, err := New(e.bus, &Options{QueueSize: 1, MaxBatch: math.MaxInt, Budget: math.MaxInt64, SkipStartupResync: true})
			if err != nil {
				return err
			}
			defer o.Close()
			d := f64Write(e.id, 1)
			if err := o.Submit(ctx, &d); err != nil {
				return err
			}
			if r, err := o.Tick(ctx); err != nil || r.Committed != 1 || r.Overrun {
				return failf("tick: %+v, %v", r, err)
			}
			return nil
		}},
		{name: "Submit of a nil delta", call: func(_ *testing.T, e env) error {
			return e.o.Submit(ctx, nil)
		}, want: mmsb.ErrInvalidDelta, says: "nil delta"},
		{name: "Submit of a delta to a page that does not exist is rejected at the tick", call: func(_ *testing.T, e env) error {
			d := f64Write(e.id+100, 1)
			if err := e.o.Submit(ctx, &d); err != nil {
				return err
			}
			r, err := e.o.Tick(ctx)
			if err != nil || r.Rejected != 1 || !errors.Is(r.Rejections[0].Err, mmsb.ErrPageNotFound) {
				return failf("tick: %+v, %v; want the delta rejected with ErrPageNotFound", r, err)
			}
			return nil
		}},
		{name: "SubmitBatch with a delta to a page that does not exist", call: func(_ *testing.T, e env) error {
			return e.o.SubmitBatch(ctx, []delta.Delta{f64Write(e.id, 1), f64Write(e.id+100, 2)})
		}, want: mmsb.ErrPageNotFound, says: "at delta 1"},
		{name: "SubmitBatch larger than the queue", opts: &Options{QueueSize: 2, SkipStartupResync: true}, call: func(_ *testing.T, e env) error {
			return e.o.SubmitBatch(ctx, make([]delta.Delta, 3))
		}, want: ErrBatchTooLarge, says: "3 deltas"},
		{name: "SubmitBatch of nothing", call: func(_ *testing.T, e env) error {
			return e.o.SubmitBatch(ctx, nil)
		}},
		{name: "Run with a zero interval", call: func(_ *testing.T, e env) error {
			return e.o.Run(ctx, 0)
		}, want: mmsb.ErrInvalidOption, says: "interval 0s"},
		{name: "Run with a negative interval", call: func(_ *testing.T, e env) error {
			return e.o.Run(ctx, -time.Second)
		}, want: mmsb.ErrInvalidOption, says: "interval -1s"},
		{name: "Run with a cancelled context", call: func(_ *testing.T, e env) error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return e.o.Run(c, time.Hour)
		}},
		{name: "RegisterInvariant with a nil function", call: func(_ *testing.T, e env) error {
			return e.o.RegisterInvariant("x", 1, nil)
		}, want: mmsb.ErrInvalidOption, says: `"x"`},
		{name: "RegisterInvariant every 0 ticks", call: func(_ *testing.T, e env) error {
			return e.o.RegisterInvariant("x", 0, func() error { return nil })
		}, want: mmsb.ErrInvalidOption, says: "every 0"},
		{name: "RegisterInvariant twice", call: func(_ *testing.T, e env) error {
			_ = e.o.RegisterInvariant("x", 1, func() error { return nil })
			return e.o.RegisterInvariant("x", 1, func() error { return nil })
		}, want: mmsb.ErrInvalidOption, says: "already registered"},
		{name: "Subscribe to event type 0", call: func(_ *testing.T, e env) error {
			_, err := e.o.Subscribe(EventFilter{Types: []EventType{0}}, 1, false)
			return err
		}, want: mmsb.ErrInvalidOption, says: "unknown event type 0"},
		{name: "Subscribe to an unknown event type", call: func(_ *testing.T, e env) error {
			_, err := e.o.Subscribe(EventFilter{Types: []EventType{200}}, 1, false)
			return err
		}, want: mmsb.ErrInvalidOption, says: "unknown event type 200"},
		{name: "Subscribe with a huge buffer", call: func(_ *testing.T, e env) error {
			_, err := e.o.Subscribe(EventFilter{}, math.MaxInt, false)
			return err
		}, want: mmsb.ErrInvalidOption, says: "subscription buffer"},
		{name: "calls after Close, and Close twice", call: func(_ *testing.T, e env) error {
			if err := e.o.Close(); err != nil {
				return err
			}
			if err := e.o.Close(); err != nil {
				return failf("second Close: %v", err)
			}
			d := f64Write(e.id, 1)
			for name, err := range map[string]error{
				"Submit":      e.o.Submit(ctx, &d),
				"SubmitBatch": e.o.SubmitBatch(ctx, []delta.Delta{d}),
				"Run":         e.o.Run(ctx, time.Millisecond),
			} {
				if !errors.Is(err, mmsb.ErrClosed) {
					return failf("%s after Close: %v, want ErrClosed", name, err)
				}
			}
			_, err := e.o.Tick(ctx)
			return err
		}, want: mmsb.ErrClosed, says: "orchestrator closed"},
		{name: "Tick with a cancelled context keeps the queue", call: func(_ *testing.T, e env) error {
			d := f64Write(e.id, 1)
			if err := e.o.Submit(ctx, &d); err != nil {
				return err
			}
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := e.o.Tick(c)
			if e.o.QueueLen() != 1 {
				return failf("queue holds %d deltas after the cancelled tick, want 1 (tick error %v)", e.o.QueueLen(), err)
			}
			return err
		}, want: context.Canceled, says: "canceled"},
		{name: "Run twice at once, and Close while both run", call: func(_ *testing.T, e env) error {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i := range errs {
				wg.Go(func() { errs[i] = e.o.Run(ctx, time.Millisecond) })
			}
			d := f64Write(e.id, 1)
			for range 20 {
				if err := e.o.Submit(ctx, &d); err != nil {
					return err
				}
			}
			time.Sleep(20 * time.Millisecond)
			e.o.Close()
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, mmsb.ErrClosed) {
					return failf("Run %d: %v, want ErrClosed", i, err)
				}
			}
			return nil
		}},
		{name: "a non-blocking subscription nobody reads", call: func(_ *testing.T, e env) error {
			// Committed events only: a tick over its budget on a loaded
			// machine also publishes an overrun event, which took the
			// buffer's one place first once in CI (5 dropped).
			s, err := e.o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, false)
			if err != nil {
				return err
			}
			for i := range 5 {
				d := f64Write(e.id, float64(i))
				if err := e.o.Submit(ctx, &d); err != nil {
					return err
				}
				if _, err := e.o.Tick(ctx); err != nil {
					return err
				}
			}
			if s.Dropped() != 4 {
				return failf("%d events dropped, want 4 (5 committed, buffer of 1)", s.Dropped())
			}
			s.Close()
			s.Close()
			return nil
		}},
		// Before: Tick waited on the reader for ever, deadline or not.
		{name: "Tick whose context ends while a blocking subscription nobody reads waits", call: func(_ *testing.T, e env) error {
			s, err := e.o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, true)
			if err != nil {
				return err
			}
			for i := range 3 {
				d := f64Write(e.id, float64(i))
				if err := e.o.Submit(ctx, &d); err != nil {
					return err
				}
			}
			// Cancelled once the first event fills the buffer: the commit
			// is done by then and the tick waits on the reader for the
			// second (a timeout could end before a slow machine committed).
			c, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				for deadline := time.Now().Add(10 * time.Second); len(s.C) == 0 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			r, err := e.o.Tick(c)
			if err != nil || r.Committed != 3 {
				return failf("tick: %+v, %v; want 3 committed", r, err)
			}
			if len(s.C) != 1 || s.Dropped() != 2 {
				return failf("%d events buffered, %d dropped; want 1 and 2", len(s.C), s.Dropped())
			}
			return nil
		}},
		// Before: Run did not return after its context ended: its tick waited on the reader.
		{name: "Run cancelled while a blocking subscription nobody reads waits", call: func(_ *testing.T, e env) error {
			if _, err := e.o.Subscribe(EventFilter{Types: []EventType{EventDeltaCommitted}}, 1, true); err != nil {
				return err
			}
			for i := range 3 {
				d := f64Write(e.id, float64(i))
				if err := e.o.Submit(ctx, &d); err != nil {
					return err
				}
			}
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return e.o.Run(c, time.Millisecond)
		}},
		// Before: FlushPropagation waited on the reader for ever.
		{name: "FlushPropagation whose context ends while a blocking subscription waits", opts: &Options{Deferred: true}, call: func(t *testing.T, e env) error {
			kids := mustCreate(t, e.bus, 1, 8)
			if err := e.bus.Bind(ctx, kids[0], "f64.sum", nil, []mmsb.PageID{e.id}); err != nil {
				return err
			}
			if _, err := e.o.Subscribe(EventFilter{Types: []EventType{EventPageRecomputed}}, 1, true); err != nil {
				return err
			}
			// Fill the buffer, then flush once more with a context that ends.
			for i := range 2 {
				d := f64Write(e.id, float64(i+1))
				if err := e.o.Submit(ctx, &d); err != nil {
					return err
				}
				if _, err := e.o.Tick(ctx); err != nil {
					return err
				}
				// The first flush fills the buffer and must not depend on
				// time; the second ends by its deadline (1 s: long enough
				// for a loaded machine to propagate before it).
				c, cancel := ctx, context.CancelFunc(func() {})
				if i == 1 {
					c, cancel = context.WithTimeout(ctx, time.Second)
				}
				_, err := e.o.FlushPropagation(c)
				cancel()
				if err != nil {
					return failf("flush %d: %v", i, err)
				}
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bus := openMem(t, nil)
			id := mustCreate(t, bus, 1, 8)[0]
			opts := tc.opts
			if opts == nil {
				opts = &Options{SkipStartupResync: true}
			}
			e := env{bus: bus, o: newOrch(t, bus, opts), id: id}
			err := boundedCall(t, bound, func() error { return tc.call(t, e) })
			if err != nil && strings.HasPrefix(err.Error(), "panic:") {
				t.Fatal(err)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("want an error wrapping %v saying %q, got %v", tc.want, tc.says, err)
			}
		})
	}
}
