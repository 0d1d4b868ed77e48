package tick

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestRunIntervalBelowMinimum: Run with a period below MinInterval is
// refused at once with mmsb.ErrInvalidOption naming the period and the
// bound. Run(ctx, time.Nanosecond) (mmsb serve --ticks 1ns) was accepted:
// the ticker fired again before each tick ended and Run ran ticks back to
// back, a core busy on an idle bus, until ctx ended (then returned nil).
// MinInterval itself is accepted.
func TestRunIntervalBelowMinimum(t *testing.T) {
	e := openMem(t, nil)
	o := newOrch(t, e, nil)
	// 0 and negative said "tick interval 0s", without the bound.
	for _, iv := range []time.Duration{0, -time.Second, time.Nanosecond, 999 * time.Microsecond} {
		// A deadline only so that the defect ends the call (nil) rather
		// than hanging the test.
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := o.Run(c, iv)
		cancel()
		if !errors.Is(err, mmsb.ErrInvalidOption) {
			t.Fatalf("Run(%v) = %v, want mmsb.ErrInvalidOption", iv, err)
		}
		if msg := err.Error(); !strings.Contains(msg, iv.String()) || !strings.Contains(msg, MinInterval.String()) {
			t.Fatalf("Run(%v) = %q, want the interval and the bound %v named", iv, msg, MinInterval)
		}
	}
	c, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Run(c, MinInterval) }()
	// Let it tick a few times (no assertion on how many), then stop it.
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := testutil.Recv(t, done, "Run(MinInterval) returning once ctx ends"); err != nil {
		t.Fatalf("Run(MinInterval) = %v, want nil once ctx ends", err)
	}
}
