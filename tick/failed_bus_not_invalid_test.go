package tick

import (
	"errors"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// notFoundReplicator fails every record with an error that wraps
// mmsb.ErrPageNotFound: the bus fails with ErrFailed wrapping it.
type notFoundReplicator struct{ brokenReplicator }

func (r *notFoundReplicator) Replicate(*mmsb.ReplicatedRecord) error {
	if r.broken.Load() {
		return fmt.Errorf("remote store: %w", mmsb.ErrPageNotFound)
	}
	return nil
}

// TestTickFailedBusIsNoInvalidDelta: a commit refused because the bus has
// failed, with a failure whose cause wraps ErrPageNotFound, is a failed
// commit (the batch kept, the error reported), not deltas naming a page
// that does not exist: the tick classified it by the wrapped cause and
// validated the batch delta by delta, twice, before keeping it.
func TestTickFailedBusIsNoInvalidDelta(t *testing.T) {
	rep := &notFoundReplicator{}
	e := openMem(t, &mmsb.Options{Replicator: rep, Sync: mmsb.SyncReplicated})
	id, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	o, err := New(e, &Options{SkipStartupResync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	validations := 0
	o.validateFunc = func(ds []delta.Delta, reject func(int, error)) (int, error) {
		validations++
		return e.ValidateBatch(ds, reject)
	}
	rep.broken.Store(true)
	// The first commit fails the bus (its delta was logged: rejected).
	if _, err := e.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Offset: 0, Data: []byte{1}}}}}); !errors.Is(err, mmsb.ErrFailed) || !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("Commit through the failing replicator = %v; want ErrFailed wrapping ErrPageNotFound", err)
	}
	submitAll(t, o, delta.Delta{Page: id, Runs: []delta.Run{{Offset: 1, Data: []byte{7}}}})
	r, err := o.Tick(ctx)
	if !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("Tick on the failed bus = %v; want ErrFailed", err)
	}
	if r.Rejected != 0 || r.Kept != 1 {
		t.Fatalf("Tick on a failed bus: Rejected %d, Kept %d; want 0, 1 (the bus failed: the delta is valid and was not logged)", r.Rejected, r.Kept)
	}
	if validations != 0 {
		t.Fatalf("Tick on a failed bus validated its batch %d times; want 0: the failure's cause (ErrPageNotFound) was read as an invalid delta", validations)
	}
}
