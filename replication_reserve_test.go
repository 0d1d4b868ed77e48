package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/record"
)

// TestReserveReplicatedHostileSizes: a replicated record whose create has
// a size no page can have (0, one past base.MaxPageSize, 2^32-1) is
// refused with ErrReplication before it is logged, never a panic, and
// the follower stays usable: the leader's next record applies.
func TestReserveReplicatedHostileSizes(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	mustCreate(t, leader, 2, 64)
	recs := rep.records()
	f := openMem(t, &Options{Follower: true})
	for _, size := range []uint32{0, base.MaxPageSize + 1, 1<<32 - 1} {
		payload := record.AppendHeader(nil, 1)
		payload = record.AppendCreate(payload, 1, 64, base.LocationCPU, nil)
		payload = record.AppendCreate(payload, 2, size, base.LocationCPU, nil)
		rec := ReplicatedRecord{FirstLSN: 1, LastLSN: 2, Payload: payload, StateHash: recs[0].StateHash}
		err := f.ApplyReplicated(ctx, &rec)
		if !errors.Is(err, ErrReplication) || errors.Is(err, ErrFailed) {
			t.Fatalf("a replicated create of %d bytes: %v, want ErrReplication (follower not failed)", size, err)
		}
		if f.LastLSN() != 0 || f.Err() != nil {
			t.Fatalf("after the refused record of a %d-byte page: LSN %d, bus error %v", size, f.LastLSN(), f.Err())
		}
	}
	if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
		t.Fatalf("the leader's record after the refused ones: %v", err)
	}
	if got, want := hashOf(t, f), hashOf(t, leader); got != want {
		t.Fatalf("follower state hash %#x, leader %#x", got, want)
	}
}
