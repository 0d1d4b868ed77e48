package replicate

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPositionDownErrKeepsOtherErrors: once a position check's
// connection watch has fired, a read that the loss cancelled is reported
// as the loss (ErrStreamUnavailable wrapping ErrServerUnreachable, which
// Run retries), and every other error stands: a verdict (ErrDiverged,
// ErrNeedBootstrap), a record that does not parse (ErrBadMessage) are
// not made "unavailable", and an unavailability says the connection is
// down as well as what the read said. Control: every error came back as
// "stream unavailable: position: … cannot be reached", a diverged
// follower retried for ever instead of being set aside.
func TestPositionDownErrKeepsOtherErrors(t *testing.T) {
	down := fmt.Errorf("%w: nats://127.0.0.1:4222 (connection RECONNECTING)", ErrServerUnreachable)
	for _, tc := range []struct {
		name        string
		err         error
		want        error
		unavailable bool
	}{
		{"diverged", fmt.Errorf("%w: the stream ends at LSN 7, the local bus is at LSN 9", ErrDiverged), ErrDiverged, false},
		{"bootstrap", fmt.Errorf("%w: the stream starts at LSN 40, the local bus is at LSN 3", ErrNeedBootstrap), ErrNeedBootstrap, false},
		{"bad message", fmt.Errorf("stream sequence 5: %w: header Mmsb-Term missing", ErrBadMessage), ErrBadMessage, false},
		{"stream not found", fmt.Errorf("%w: stream info: %w", ErrStreamUnavailable, jetstream.ErrStreamNotFound), jetstream.ErrStreamNotFound, true},
		{"cancelled read", fmt.Errorf("%w: read stream sequence 3: %w", ErrStreamUnavailable, context.Canceled), ErrServerUnreachable, true},
	} {
		got := positionDownErr(tc.err, down)
		if !errors.Is(got, tc.want) {
			t.Errorf("%s: %v, want it to wrap %v", tc.name, got, tc.want)
		}
		if errors.Is(got, ErrStreamUnavailable) != tc.unavailable {
			t.Errorf("%s: %v: wraps ErrStreamUnavailable %v, want %v", tc.name, got, !tc.unavailable, tc.unavailable)
		}
		if tc.unavailable && !errors.Is(got, ErrServerUnreachable) {
			t.Errorf("%s: %v does not say the connection is down", tc.name, got)
		}
	}
}
