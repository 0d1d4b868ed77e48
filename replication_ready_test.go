package mmsb

import (
	"errors"
	"sync"
	"testing"
)

// readyReplicator is a fakeReplicator with the optional Ready method:
// notReady (when set) is its answer.
type readyReplicator struct {
	fakeReplicator
	readyMu  sync.Mutex
	notReady error
}

func (r *readyReplicator) Ready() error {
	r.readyMu.Lock()
	defer r.readyMu.Unlock()
	return r.notReady
}

func (r *readyReplicator) setNotReady(err error) {
	r.readyMu.Lock()
	defer r.readyMu.Unlock()
	r.notReady = err
}

// TestReplicatorNotReadyRefusesBeforeLog: a Replicator whose Ready says
// it cannot replicate now (a leader's NATS connection down) has every
// write refused before it is logged, with ErrReplication wrapping its
// error, not sticky: nothing is logged, applied or handed on, the bus is
// not failed, and once Ready says yes the next commit is logged at the
// next LSN and replicated. Control: the commit was taken (logged and
// handed to Replicate) while the Replicator said it could not replicate.
func TestReplicatorNotReadyRefusesBeforeLog(t *testing.T) {
	rep := &readyReplicator{}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, e, 1, 16)
	before, handed := e.LastLSN(), len(rep.records())

	down := errors.New("the target is out of reach")
	rep.setNotReady(down)
	_, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("refused"))})
	if !errors.Is(err, ErrReplication) || !errors.Is(err, down) || errors.Is(err, ErrFailed) {
		t.Fatalf("commit while the Replicator is not ready: %v, want ErrReplication wrapping %q, not ErrFailed", err, down)
	}
	if _, err := e.CreatePage(ctx, PageSpec{Size: 8}); !errors.Is(err, ErrReplication) {
		t.Fatalf("page create while the Replicator is not ready: %v, want ErrReplication", err)
	}
	if e.LastLSN() != before || len(rep.records()) != handed || e.Err() != nil {
		t.Fatalf("after the refusals: LSN %d (was %d), %d records handed on (was %d), bus error %v", e.LastLSN(), before, len(rep.records()), handed, e.Err())
	}
	if b, _, err := e.ReadPage(ids[0], nil); err != nil || string(b[:7]) == "refused" {
		t.Fatalf("page after the refused commit: %q, %v", b, err)
	}

	rep.setNotReady(nil)
	info, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("taken"))})
	if err != nil {
		t.Fatalf("commit once the Replicator is ready again: %v", err)
	}
	recs := rep.records()
	if info.FirstLSN != before+1 || len(recs) != handed+1 || recs[len(recs)-1].FirstLSN != info.FirstLSN {
		t.Fatalf("commit once ready: LSN %d (want %d), %d records handed on (want %d)", info.FirstLSN, before+1, len(recs), handed+1)
	}
}
