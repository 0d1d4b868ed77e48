package mmsb

import (
	"errors"
	"testing"
)

// A follower without room for a replicated record's pages refuses the
// record with ErrNoSpace before it logs it, and takes it once there is
// room: it logged the record first and failed (ErrReplicaDiverged) when
// the create did not apply, which needed a reopen and looked like a
// divergence from the leader.
func TestFollowerOutOfMemoryRefusesRecord(t *testing.T) {
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	mustCreate(t, leader, 4, 256)
	mustCreate(t, leader, 1, 3<<20) // a large page: a chunk of its own
	recs := rep.records()
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	f := openMem(t, &Options{Follower: true})
	if err := f.ApplyReplicated(ctx, &recs[0]); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.store.SetArenaLimit(2 << 20) // the small pages' chunk fits, the 3 MiB page does not
	f.mu.Unlock()
	err := f.ApplyReplicated(ctx, &recs[1])
	if !errors.Is(err, ErrNoSpace) || errors.Is(err, ErrReplicaDiverged) || errors.Is(err, ErrFailed) {
		t.Fatalf("ApplyReplicated without room = %v, want ErrNoSpace (not a failed, diverged follower)", err)
	}
	if got, want := f.LastLSN(), recs[0].LastLSN; got != want {
		t.Fatalf("follower at LSN %d after the refused record, want %d (nothing logged)", got, want)
	}
	f.mu.Lock()
	f.store.SetArenaLimit(0)
	f.mu.Unlock()
	if err := f.ApplyReplicated(ctx, &recs[1]); err != nil {
		t.Fatalf("the same record once there is room: %v", err)
	}
	if got, want := hashOf(t, f), hashOf(t, leader); got != want {
		t.Fatalf("follower state hash %#x, leader %#x", got, want)
	}
	if err := f.VerifyRollingHash(); err != nil {
		t.Fatal(err)
	}
}
