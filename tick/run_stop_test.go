package tick

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestRunStopsWhenClosed: Run returns the closing error as soon as it can
// see it, whatever the mode. In deferred mode an idle tick touches nothing
// on the bus, so a closed bus went unnoticed and Run ticked on until its
// context ended (returning nil); and a Run with a long interval kept waiting
// for its next tick after the orchestrator's Close.
func TestRunStopsWhenClosed(t *testing.T) {
	tests := []struct {
		name      string
		deferred  bool
		interval  time.Duration
		closeBus  bool // else close the orchestrator
		wantError error
	}{
		{"bus closed, immediate", false, time.Millisecond, true, mmsb.ErrClosed},
		{"bus closed, deferred", true, time.Millisecond, true, mmsb.ErrClosed},
		{"orchestrator closed, long interval", false, time.Hour, false, mmsb.ErrClosed},
		{"orchestrator closed, long interval, deferred", true, time.Hour, false, mmsb.ErrClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := openMem(t, nil)
			o := newOrch(t, e, &Options{Deferred: tc.deferred, SkipStartupResync: true})
			if tc.closeBus {
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			} else if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			// The deadline only bounds a failing run: a Run that does not
			// see the close returns nil when it passes.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := o.Run(rctx, tc.interval); !errors.Is(err, tc.wantError) {
				t.Fatalf("Run after close returned %v, want %v", err, tc.wantError)
			}
		})
	}
}
