package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
)

// TestFollowerPartlyAppliedRecordReadsRefused: a replicated record whose
// ops all pass the follower's checks, and of which one then does not
// apply (a defect in those checks: replicatedCheckedHook makes the second
// op a delta to a page that does not exist), leaves its first op applied
// in memory. The follower fails with ErrReplicaDiverged, and its reads of
// page bytes return that failure (ErrFailed) instead of the pages holding
// part of the record. Until 2026-12-07 the failure was not marked
// partlyApplied, and ReadPage served the first op's byte as the state.
func TestFollowerPartlyAppliedRecordReadsRefused(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, leader, 2, 16)
	recs := rep.records()
	if len(recs) != 1 {
		t.Fatalf("%d leader records, want 1", len(recs))
	}
	f := openMem(t, &Options{Follower: true})
	if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
		t.Fatal(err)
	}
	// The first delta checks its epoch, so it is applied on its own
	// (not in a run checked whole before any of it is applied).
	first := delta.Delta{Page: ids[0], CheckEpoch: true, Runs: []delta.Run{{Data: []byte{7}}}}
	second := delta.Delta{Page: ids[1], Runs: []delta.Run{{Data: []byte{8}}}}
	payload := record.AppendDelta(record.AppendHeader(nil, 1), &first)
	payload = record.AppendDelta(payload, &second)
	next := recs[0].LastLSN + 1
	rec := ReplicatedRecord{FirstLSN: next, LastLSN: next + 1, Payload: payload}

	replicatedCheckedHook = func(ops []record.Op) { ops[1].Delta.Page = 77 }
	t.Cleanup(func() { replicatedCheckedHook = nil })
	err := f.ApplyReplicated(ctx, &rec)
	if !errors.Is(err, ErrReplicaDiverged) || !strings.Contains(err.Error(), "although it was checked") {
		t.Fatalf("ApplyReplicated: %v, want ErrReplicaDiverged, the op not applying although it was checked", err)
	}
	b, _, err := f.ReadPage(ids[0], nil)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, ErrReplicaDiverged) {
		t.Fatalf("ReadPage of the page the record's first op changed on the failed follower: %v (bytes %v), want its failure (ErrFailed, ErrReplicaDiverged)", err, b)
	}
	if _, _, err := f.ReadPageRange(ids[1], 0, 1, nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("ReadPageRange on the failed follower: %v, want ErrFailed", err)
	}
	if _, err := f.StateHash(); !errors.Is(err, ErrFailed) {
		t.Fatalf("StateHash on the failed follower: %v, want ErrFailed", err)
	}
}
