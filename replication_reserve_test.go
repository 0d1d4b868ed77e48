package mmsb

import (
	"errors"
	"strconv"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/tlog"

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

// TestFollowerRefusesLargeRecordBeforeReserving: a replicated record
// larger than a log record may be (tlog.MaxRecordBytes) is refused with
// ErrRecordTooLarge, the follower stays usable, and the room its creates
// would take is not left mapped: the size is checked before the creates
// are reserved (before, the 17 pages of 16 MiB stayed mapped, 272 MiB).
func TestFollowerRefusesLargeRecordBeforeReserving(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("a 272 MiB record does not fit a 32-bit test's address space")
	}
	f := openMem(t, &Options{Follower: true})
	before := f.Stats().Store.ArenaBytes
	const pages = tlog.MaxRecordBytes/base.MaxPageSize + 1
	payload := record.AppendHeader(make([]byte, 0, pages*(base.MaxPageSize+64)), 1)
	for id := PageID(1); id <= pages; id++ {
		payload = record.AppendCreate(payload, id, base.MaxPageSize, base.LocationCPU, nil)
	}
	data := make([]byte, base.MaxPageSize)
	for id := PageID(1); id <= pages; id++ {
		payload = record.AppendDelta(payload, &delta.Delta{Page: id, Runs: []delta.Run{{Data: data}}})
	}
	rec := ReplicatedRecord{FirstLSN: 1, LastLSN: 2 * pages, Payload: payload}
	if err := f.ApplyReplicated(ctx, &rec); !errors.Is(err, ErrRecordTooLarge) || f.Err() != nil {
		t.Fatalf("a record of %d bytes: %v (bus error %v), want ErrRecordTooLarge, follower usable", len(payload), err, f.Err())
	}
	if got := f.Stats().Store.ArenaBytes; got != before {
		t.Fatalf("%d bytes of page memory mapped after the refused record, %d before", got, before)
	}
}
