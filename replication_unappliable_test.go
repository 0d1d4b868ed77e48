package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/record"
)

// TestFollowerDoesNotLogRecordThatDoesNotApply: a replicated record that
// decodes but does not apply on the follower (a buggy or hostile leader,
// or a follower whose state differs) fails the follower with
// ErrReplicaDiverged naming the LSN, and is not written to the follower's
// log: the directory reopens at the last record that applied, with the
// leader's rolling hash there, and takes the leader's next record. Before,
// the record was logged first, and every later Open stopped on it as log
// corruption ("op at LSN 4 does not apply"), so the node could not restart.
func TestFollowerDoesNotLogRecordThatDoesNotApply(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, leader, 2, 16)
	if _, err := leader.Commit(ctx, []delta.Delta{w(ids[0], 0, "leader")}); err != nil {
		t.Fatal(err)
	}
	recs := rep.records()
	if len(recs) != 2 {
		t.Fatalf("%d leader records, want 2", len(recs))
	}
	next := recs[1].FirstLSN // the hostile record takes the place of recs[1]
	hostile := []struct {
		name string
		ops  func(p []byte) []byte
	}{
		{"delta to a page that does not exist", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendDelta(p, &delta.Delta{Page: 7, Runs: []delta.Run{{Data: []byte{1}}}})
		}},
		{"delta past the end of its page", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendDelta(p, &delta.Delta{Page: ids[0], Runs: []delta.Run{{Offset: 100, Data: []byte{1}}}})
		}},
		{"free of a page that does not exist", func(p []byte) []byte {
			p = record.AppendDelta(p, &delta.Delta{Page: ids[1], Runs: []delta.Run{{Data: []byte{2}}}})
			return record.AppendFree(p, 42)
		}},
		{"create of a page that exists", func(p []byte) []byte {
			return record.AppendCreate(p, ids[0], 16, base.LocationCPU, nil)
		}},
		{"flags of a page that does not exist", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendFlags(p, 43, 1)
		}},
	}
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := openT(t, dir, &Options{Follower: true})
			if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
				t.Fatal(err)
			}
			payload := tc.ops(record.AppendHeader(nil, 1))
			n := LSN(0)
			var dec record.Decoder
			if err := dec.Reset(payload); err != nil {
				t.Fatal(err)
			}
			for op := (record.Op{}); dec.More(); n++ {
				if err := dec.Next(&op); err != nil {
					t.Fatal(err)
				}
			}
			rec := ReplicatedRecord{FirstLSN: next, LastLSN: next + n - 1, Payload: payload, StateHash: recs[1].StateHash}
			err := f.ApplyReplicated(ctx, &rec)
			if !errors.Is(err, ErrReplicaDiverged) {
				t.Fatalf("ApplyReplicated: %v, want ErrReplicaDiverged", err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			g, err := Open(dir, &Options{Follower: true})
			if err != nil {
				t.Fatalf("reopening the follower after the record that did not apply: %v", err)
			}
			defer g.Close()
			h, lsn, err := g.RollingHash()
			if err != nil || lsn != recs[0].LastLSN || h != recs[0].StateHash {
				t.Fatalf("reopened follower at LSN %d, hash %#x (%v); want LSN %d, hash %#x", lsn, h, err, recs[0].LastLSN, recs[0].StateHash)
			}
			if err := g.ApplyReplicated(ctx, &recs[1]); err != nil {
				t.Fatalf("the leader's record after reopening: %v", err)
			}
			if got, want := hashOf(t, g), hashOf(t, leader); got != want {
				t.Fatalf("follower state hash %#x, leader %#x", got, want)
			}
		})
	}
}
