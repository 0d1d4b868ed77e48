package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
)

// TestFollowerAcceptsEveryLeaderRecordShape: the follower checks a
// replicated record whole before applying it and refuses shapes no leader
// writes (checkReplicatedOps); every shape a leader does write must pass,
// or the follower stops on a healthy stream. The leader here writes each:
// creates with metadata and explicit IDs in one record; a commit of
// CheckEpoch deltas, two to one page, mixed with plain ones; a wave whose
// record holds a derived delta and the flags raised on the same page (a
// data binding and a control edge from one parent) and a chain of derived
// pages (the second reads the first's output); and each control op alone.
// The follower applies all and reaches the leader's state; the test also
// asserts that the mixed wave record was really written.
func TestFollowerAcceptsEveryLeaderRecordShape(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids, err := leader.CreatePages(ctx, []PageSpec{
		{Size: 16, Meta: []MetaEntry{{Key: "k", Value: []byte("v")}}},
		{ID: 100, Size: 16},
		{Size: 16, Meta: []MetaEntry{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}},
		{Size: 16},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, b, c, d := ids[0], ids[1], ids[2], ids[3]
	if err := leader.Bind(ctx, b, "passthrough", nil, []PageID{p}); err != nil {
		t.Fatal(err)
	}
	if err := leader.Bind(ctx, c, "passthrough", nil, []PageID{b}); err != nil {
		t.Fatal(err)
	}
	if err := leader.AddEdge(ctx, p, b, EdgeControl); err != nil {
		t.Fatal(err)
	}
	e0 := delta.Delta{Page: d, CheckEpoch: true, ExpectEpoch: 0, Runs: []delta.Run{{Offset: 0, Data: []byte("x")}}}
	e1 := delta.Delta{Page: d, CheckEpoch: true, ExpectEpoch: 2, Runs: []delta.Run{{Offset: 1, Data: []byte("y")}}}
	if _, err := leader.Commit(ctx, []delta.Delta{e0, w(d, 2, "plain"), e1, w(p, 0, "parent")}); err != nil {
		t.Fatal(err)
	}
	r, err := leader.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) < 2 || len(r.Flags) == 0 {
		t.Fatalf("the wave wrote %d page(s) and raised %d flag(s): want a derived chain and a flag in one record", len(r.Writes), len(r.Flags))
	}
	for _, op := range []func() error{
		func() error { return leader.SetMetadata(ctx, d, []MetaEntry{{Key: "m", Value: []byte("n")}}) },
		func() error { return leader.ClearFlags(ctx, b, FlagStale) },
		func() error { return leader.RemoveEdge(ctx, p, b, EdgeControl) },
		func() error { return leader.Unbind(ctx, c) },
		func() error { return leader.FreePage(ctx, c) },
	} {
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	follower := openMem(t, &Options{Follower: true})
	mixedWave := false
	for i, rec := range rep.records() {
		var dec record.Decoder
		if err := dec.Reset(rec.Payload); err != nil {
			t.Fatal(err)
		}
		kinds := map[record.OpKind]int{}
		var op record.Op
		for range rec.LastLSN - rec.FirstLSN + 1 {
			if err := dec.Next(&op); err != nil {
				t.Fatal(err)
			}
			kinds[op.Kind]++
		}
		if kinds[record.OpDerived] >= 2 && kinds[record.OpSetFlags] >= 1 {
			mixedWave = true
		}
		if err := follower.ApplyReplicated(ctx, &rec); err != nil {
			t.Fatalf("record %d (LSN %d..%d, ops %v) refused: %v", i, rec.FirstLSN, rec.LastLSN, kinds, err)
		}
	}
	if !mixedWave {
		t.Error("no record held two derived deltas and a flag: the wave's shape was not exercised")
	}
	if got, want := hashOf(t, follower), hashOf(t, leader); got != want {
		t.Fatalf("follower state hash %#x, leader %#x", got, want)
	}
}
