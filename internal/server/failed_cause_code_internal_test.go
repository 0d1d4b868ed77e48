package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// causeReplicator fails every record with an error that wraps
// mmsb.ErrPageNotFound (a Replicator's error is the caller's own).
type causeReplicator struct{}

func (causeReplicator) MaxRecordBytes() int { return 0 }
func (causeReplicator) Replicate(*mmsb.ReplicatedRecord) error {
	return fmt.Errorf("remote store: %w", mmsb.ErrPageNotFound)
}
func (causeReplicator) WaitStored(context.Context, mmsb.LSN) error { return nil }

// TestCodeForFailedBusBeforeItsCause: a failed bus's error wraps its
// cause, which may be another sentinel, and every later call answers with
// it: it maps to Unavailable (the bus failed; a restarted server
// recovers), not to the cause's code. A bus failed by a Replicator error
// wrapping ErrPageNotFound made every later Commit answer NotFound.
func TestCodeForFailedBusBeforeItsCause(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{Replicator: causeReplicator{}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); !errors.Is(err, mmsb.ErrFailed) || !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("CreatePage through the failing replicator = %v; want ErrFailed wrapping ErrPageNotFound", err)
	}
	_, err = bus.Commit(ctx, []delta.Delta{{Page: 1, Runs: []delta.Run{{Offset: 0, Data: []byte{1}}}}})
	if !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("Commit on the failed bus = %v; want ErrFailed", err)
	}
	if got := codeFor(err); got != connect.CodeUnavailable {
		t.Fatalf("codeFor(%v) = %v; want unavailable (the bus failed; its cause wraps ErrPageNotFound)", err, got)
	}
}
