package mmsb

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
)

// TestSharedFollowerPartlyAppliedTellsReaders: a follower in shared mode
// whose replicated record applied only in part (as in
// TestFollowerPartlyAppliedRecordReadsRefused) fails through the bus's
// fail, so its region is marked closed (closeRegionIfPartial): a Reader
// in shared memory gets ErrWriterGone instead of the page holding the
// record's first op, as the follower's own reads get ErrFailed.
func TestSharedFollowerPartlyAppliedTellsReaders(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, leader, 2, 16)
	recs := rep.records()
	if len(recs) != 1 {
		t.Fatalf("%d leader records, want 1", len(recs))
	}
	shm := scratchShmDir(t)
	dir := t.TempDir()
	f, err := Open(dir, &Options{Follower: true, Shared: true, SharedDir: shm, Sync: SyncNone, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = f.Close() }) })
	if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if _, _, _, err := rd.ReadPage(ids[0], nil); err != nil {
		t.Fatalf("reader's ReadPage before the failure: %v", err)
	}
	first := delta.Delta{Page: ids[0], CheckEpoch: true, Runs: []delta.Run{{Data: []byte{7}}}}
	second := delta.Delta{Page: ids[1], Runs: []delta.Run{{Data: []byte{8}}}}
	payload := record.AppendDelta(record.AppendHeader(nil, 1), &first)
	payload = record.AppendDelta(payload, &second)
	next := recs[0].LastLSN + 1
	rec := ReplicatedRecord{FirstLSN: next, LastLSN: next + 1, Payload: payload}
	replicatedCheckedHook = func(ops []record.Op) { ops[1].Delta.Page = 77 }
	t.Cleanup(func() { replicatedCheckedHook = nil })
	if err := f.ApplyReplicated(ctx, &rec); !errors.Is(err, ErrReplicaDiverged) || !strings.Contains(err.Error(), "although it was checked") {
		t.Fatalf("ApplyReplicated: %v, want ErrReplicaDiverged, the op not applying although it was checked", err)
	}
	if _, _, err := f.ReadPage(ids[0], nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("the failed follower's own ReadPage = %v; want ErrFailed", err)
	}
	for _, id := range ids {
		if b, _, _, err := rd.ReadPage(id, nil); !errors.Is(err, ErrWriterGone) {
			t.Fatalf("reader's ReadPage(%d) after the follower failed with part of a record applied = %v, %v; want ErrWriterGone for the closed region", id, b, err)
		}
	}
	// The region marked closed early is still the bus's to remove: its
	// Close leaves SharedDir empty, and the directory opens again in
	// shared mode with its logged state, read by a new Reader.
	boundedCall(t, "Close", func() { _ = f.Close() })
	if ents, err := os.ReadDir(shm); err != nil || len(ents) != 0 {
		t.Fatalf("after the failed follower's Close %s holds %v (%v), want nothing", shm, ents, err)
	}
	g, err := Open(dir, &Options{Follower: true, Shared: true, SharedDir: shm, Sync: SyncNone, CheckpointBytes: -1, Clock: testClock()})
	if err != nil {
		t.Fatalf("Open again after the failed follower's Close: %v", err)
	}
	defer g.Close()
	rd2, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatalf("OpenReader of the reopened follower: %v", err)
	}
	defer rd2.Close()
	if b, _, _, err := rd2.ReadPage(ids[0], nil); err != nil || len(b) != 16 || b[0] != 0 {
		t.Fatalf("new reader's ReadPage(%d) = %v, %v; want the logged 16 zero bytes", ids[0], b, err)
	}
}
