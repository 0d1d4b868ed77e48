package replicate

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// A follower that has no room for a record's pages, or is sent a record
// larger than its log holds, cannot take that record by following again:
// Node.Run stops with the error (docs/replication.md: "the node stops with
// that error and, restarted where there is room, takes the same record")
// instead of reopening its bus every LeaseTTL/4 for ever. Errors a new
// cycle can fix (the lease, the fence, a stalled catch-up, the network)
// do not stop it.
func TestNodeStopsOnRecordItCannotTake(t *testing.T) {
	// Wrapped as Follower.apply wraps ApplyReplicated's errors.
	applyErr := func(err error) error { return fmt.Errorf("replicate: stream sequence %d: %w", 42, err) }
	stops := []error{
		applyErr(fmt.Errorf("%w: a replicated record of 3 creates: no room", mmsb.ErrNoSpace)),
		applyErr(fmt.Errorf("%w: 300000000 bytes", mmsb.ErrRecordTooLarge)),
		applyErr(fmt.Errorf("%w: after LSN 9", mmsb.ErrReplicaDiverged)),
		fmt.Errorf("%w: term 1 after term 2", ErrStaleTerm),
		fmt.Errorf("%w: header missing", ErrBadMessage),
	}
	for _, err := range stops {
		if !stopsNode(err) {
			t.Errorf("Node.Run goes on after %q, want it to stop", err)
		}
	}
	goesOn := []error{
		nil,
		ErrLeaseLost,
		fmt.Errorf("replicate: record ending at LSN 5 not stored: %w", ErrFenced),
		fmt.Errorf("%w: no record for 10s", ErrCatchUpStalled),
		fmt.Errorf("replicate: stream info: %w", context.DeadlineExceeded),
		applyErr(fmt.Errorf("%w: gap", mmsb.ErrReplicaOrder)),
		errors.New("replicate: consume: connection closed"),
	}
	for _, err := range goesOn {
		if stopsNode(err) {
			t.Errorf("Node.Run stops after %v, want another cycle", err)
		}
	}
}
