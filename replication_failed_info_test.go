package mmsb

import (
	"errors"
	"testing"
)

// TestCommitNamesBatchWhenReplicationFails: a batch logged and applied
// whose replication then fails (Replicate refuses it, or WaitStored
// reports it not stored) fails the bus, and Commit says which LSNs the
// batch took alongside the error, as for a failed fsync. Replicate's
// failure returned an empty CommitInfo, so a caller could not tell a
// batch that was logged and applied from one refused before it was
// logged: the tick orchestrator kept such deltas for the next tick
// instead of reporting them rejected, and a caller that resubmitted them
// elsewhere applied them twice.
func TestCommitNamesBatchWhenReplicationFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*fakeReplicator)
	}{
		{"Replicate fails", func(r *fakeReplicator) { r.err = errors.New("broker down") }},
		{"WaitStored fails", func(r *fakeReplicator) { r.storeErr = errors.New("broker lost the record") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &fakeReplicator{}
			e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
			ids := mustCreate(t, e, 2, 16)
			rep.mu.Lock()
			tc.fail(rep)
			rep.mu.Unlock()
			before := e.LastLSN()
			info, err := e.Commit(ctx, []Delta{
				{Page: ids[0], Runs: []Run{{Offset: 0, Data: []byte{1}}}},
				{Page: ids[1], Runs: []Run{{Offset: 0, Data: []byte{2}}}},
			})
			if !errors.Is(err, ErrReplication) || !errors.Is(err, ErrFailed) {
				t.Fatalf("Commit = %v, want ErrReplication and ErrFailed", err)
			}
			if info.FirstLSN != before+1 || info.LastLSN != before+2 || info.Time == 0 {
				t.Fatalf("Commit's info = %+v with the error, want LSNs %d..%d and the commit time: the batch was logged and applied", info, before+1, before+2)
			}
			if got := e.LastLSN(); got != info.LastLSN {
				t.Fatalf("LastLSN %d, the failed commit's info says %d", got, info.LastLSN)
			}
		})
	}
}

// TestCreatePagesNamesPagesWhenReplicationFails: a create batch logged
// and applied whose replication then fails returns its page IDs with the
// error, as Commit returns its LSNs: the pages exist, and a caller told
// nothing (the IDs were nil) would create them again elsewhere.
func TestCreatePagesNamesPagesWhenReplicationFails(t *testing.T) {
	rep := &fakeReplicator{}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	mustCreate(t, e, 1, 16)
	rep.mu.Lock()
	rep.err = errors.New("broker down")
	rep.mu.Unlock()
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 16}, {Size: 32}})
	if !errors.Is(err, ErrReplication) || !errors.Is(err, ErrFailed) {
		t.Fatalf("CreatePages = %v, %v; want ErrReplication and ErrFailed", ids, err)
	}
	if len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
		t.Fatalf("CreatePages returned IDs %v with the error, want [2 3]: the batch was logged and applied", ids)
	}
	for i, id := range ids {
		if p, err := e.Page(id); err != nil || p.Size != 16<<i {
			t.Fatalf("page %d after the failed create: %+v, %v", id, p, err)
		}
	}
	// A batch refused before it is logged names no page.
	if ids, err := e.CreatePages(ctx, []PageSpec{{Size: 16}}); ids != nil || !errors.Is(err, ErrFailed) {
		t.Fatalf("CreatePages on the failed bus = %v, %v; want nil and ErrFailed", ids, err)
	}
}
