package tick

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// brokenReplicator accepts records until broken is set, then refuses them.
type brokenReplicator struct{ broken atomic.Bool }

func (*brokenReplicator) MaxRecordBytes() int { return 0 }
func (r *brokenReplicator) Replicate(*mmsb.ReplicatedRecord) error {
	if r.broken.Load() {
		return errors.New("broker down")
	}
	return nil
}
func (*brokenReplicator) WaitStored(context.Context, mmsb.LSN) error { return nil }

// TestTickRejectsBatchWhoseReplicationFailed: a tick whose batch was logged
// and applied, and whose replication then failed, reports its deltas
// rejected (the failed durability of their batch), not kept for the next
// tick: they are in the log, and committing them again would apply them
// twice. Bus.Commit returned an empty CommitInfo for that failure, which
// the tick read as "not logged": Kept 1, Rejected 0, while the page held
// the byte.
func TestTickRejectsBatchWhoseReplicationFailed(t *testing.T) {
	rep := &brokenReplicator{}
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
	rep.broken.Store(true)
	submitAll(t, o, delta.Delta{Page: id, Runs: []delta.Run{{Offset: 0, Data: []byte{7}}}})
	r, err := o.Tick(ctx)
	if !errors.Is(err, mmsb.ErrReplication) {
		t.Fatalf("Tick = %v, want ErrReplication", err)
	}
	if r.Rejected != 1 || r.Kept != 0 || o.QueueLen() != 0 {
		t.Fatalf("after the failed replication: Rejected %d, Kept %d, QueueLen %d; want 1, 0, 0 (the delta was logged and applied)", r.Rejected, r.Kept, o.QueueLen())
	}
}
