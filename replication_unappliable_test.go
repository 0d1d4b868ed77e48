package mmsb

import (
	"errors"
	"fmt"
	"strings"
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

// TestFollowerRecordThatDoesNotApplyChangesNothing: a replicated record
// whose first ops apply and a later one does not is refused whole
// (ErrReplicaDiverged naming the failing op's LSN): the failed follower's
// pages, epochs and page set are those before the record, so its reads
// show whole records, as after any other failure. Before, the ops before
// the failing one stayed applied in the failed bus's memory. Records of
// the leader's own shapes (deltas with CheckEpoch counting earlier deltas
// to the page, creates) still apply.
func TestFollowerRecordThatDoesNotApplyChangesNothing(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, leader, 2, 16)
	recs := rep.records()
	if len(recs) != 1 {
		t.Fatalf("%d leader records, want 1", len(recs))
	}
	next := recs[0].LastLSN + 1
	put := func(id PageID, off uint32, b byte) *delta.Delta {
		return &delta.Delta{Page: id, Runs: []delta.Run{{Offset: off, Data: []byte{b}}}}
	}
	at := func(id PageID, ep Epoch, b byte) *delta.Delta {
		d := put(id, 0, b)
		d.CheckEpoch, d.ExpectEpoch = true, ep
		return d
	}
	tests := []struct {
		name    string
		ops     func(p []byte) []byte
		failsAt int // index of the op refused in the record; -1: the record applies
	}{
		{"delta then delta past the end of its page", func(p []byte) []byte {
			p = record.AppendDelta(p, put(ids[0], 0, 7))
			return record.AppendDelta(p, put(ids[1], 100, 7))
		}, 1},
		{"deltas then delta to a page that does not exist", func(p []byte) []byte {
			p = record.AppendDelta(p, put(ids[0], 0, 7))
			p = record.AppendDelta(p, put(ids[1], 0, 7))
			return record.AppendDelta(p, put(77, 0, 7))
		}, 2},
		{"derived delta then flags of a page that does not exist", func(p []byte) []byte {
			p = record.AppendDerived(p, nil, put(ids[0], 0, 7))
			return record.AppendFlags(p, 43, 1)
		}, 1},
		{"second delta expecting the epoch the first one raised", func(p []byte) []byte {
			p = record.AppendDelta(p, at(ids[0], 0, 7))
			return record.AppendDelta(p, at(ids[0], 0, 8))
		}, 1},
		{"create then create of a page that exists", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendCreate(p, ids[0], 16, base.LocationCPU, nil)
		}, 1},
		{"the same page created twice", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
		}, 1},
		{"create then delta to the page created", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendDelta(p, put(9, 0, 7))
		}, 1},
		{"delta then free (a free is a record of its own)", func(p []byte) []byte {
			p = record.AppendDelta(p, put(ids[1], 0, 7))
			return record.AppendFree(p, ids[0])
		}, 1},
		{"deltas counting the epochs of earlier deltas apply", func(p []byte) []byte {
			p = record.AppendDelta(p, at(ids[0], 0, 7))
			p = record.AppendDelta(p, put(ids[1], 0, 7))
			return record.AppendDelta(p, at(ids[0], 1, 8))
		}, -1},
		{"creates apply", func(p []byte) []byte {
			p = record.AppendCreate(p, 9, 16, base.LocationCPU, nil)
			return record.AppendCreate(p, 10, 8, base.LocationCPU, nil)
		}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := openMem(t, &Options{Follower: true})
			if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
				t.Fatal(err)
			}
			before := hashOf(t, f)
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
			rec := ReplicatedRecord{FirstLSN: next, LastLSN: next + n - 1, Payload: payload}
			err := f.ApplyReplicated(ctx, &rec)
			if tc.failsAt < 0 {
				// The state hash is not the leader's: the record is not
				// the leader's. Applied, the pages changed.
				if !errors.Is(err, ErrReplicaDiverged) || !strings.Contains(err.Error(), "rolling hash") {
					t.Fatalf("ApplyReplicated: %v, want the record applied (then the hash mismatch)", err)
				}
				if hashOf(t, f) == before {
					t.Fatal("the record did not change the follower's pages")
				}
				return
			}
			if !errors.Is(err, ErrReplicaDiverged) {
				t.Fatalf("ApplyReplicated: %v, want ErrReplicaDiverged", err)
			}
			if want := fmt.Sprintf("op at LSN %d does not apply", next+LSN(tc.failsAt)); !strings.Contains(err.Error(), want) {
				t.Fatalf("ApplyReplicated: %v, want it to name %q", err, want)
			}
			if got := hashOf(t, f); got != before {
				t.Fatalf("the failed follower's state hash is %#x, %#x before the record: part of it was applied", got, before)
			}
			if _, err := f.Page(9); !errors.Is(err, ErrPageNotFound) {
				t.Fatalf("page 9 of the refused record on the failed follower: %v, want ErrPageNotFound", err)
			}
			if lsn := f.LastLSN(); lsn != recs[0].LastLSN {
				t.Fatalf("failed follower at LSN %d, want %d", lsn, recs[0].LastLSN)
			}
		})
	}
}
