package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/record"
)

// flipReplicator is a readyReplicator whose Ready refuses its next
// refuse calls, then says yes; calls counts them.
type flipReplicator struct {
	readyReplicator
	refuse int
	calls  int
}

func (r *flipReplicator) Ready() error {
	r.readyMu.Lock()
	defer r.readyMu.Unlock()
	r.calls++
	if r.refuse > 0 {
		r.refuse--
		return errors.New("the target is out of reach")
	}
	return nil
}

func (r *flipReplicator) arm(n int) (calls int) {
	r.readyMu.Lock()
	defer r.readyMu.Unlock()
	r.refuse = n
	return r.calls
}

// TestReplicatorReadyAskedOncePerWave: a propagation wave asks the
// Replicator's Ready once, when its record is logged, so that whether
// the record holds its wave op (record.OpWave) cannot rest on the moment
// a connection drops. A Ready that refuses once refuses the wave whole:
// nothing logged, the derived page not written and still pending; the
// next wave logs it, wave op included. Control: with Ready asked also by
// propagation's size check, the refusal there left the wave op out and
// the second answer let the record without it be logged.
func TestReplicatorReadyAskedOncePerWave(t *testing.T) {
	rep := &flipReplicator{}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "passthrough", nil, []PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("parent!!"))}); err != nil {
		t.Fatal(err)
	}
	before, handed := e.LastLSN(), len(rep.records())

	calls := rep.arm(1)
	if _, err := e.Propagate(ctx); !errors.Is(err, ErrReplication) || errors.Is(err, ErrFailed) {
		t.Fatalf("wave while Ready refuses once: %v, want ErrReplication (not ErrFailed)", err)
	}
	if got := rep.arm(0) - calls; got != 1 {
		t.Fatalf("the refused wave asked Ready %d times, want once", got)
	}
	if e.LastLSN() != before || len(rep.records()) != handed || e.Err() != nil {
		t.Fatalf("after the refused wave: LSN %d (was %d), %d records handed on (was %d), bus error %v", e.LastLSN(), before, len(rep.records()), handed, e.Err())
	}
	if b, _, err := e.ReadPage(ids[1], nil); err != nil || string(b) == "parent!!" {
		t.Fatalf("derived page after the refused wave: %q, %v (want it not written)", b, err)
	}

	calls = rep.arm(0)
	res, err := e.Propagate(ctx)
	if err != nil || res.Recomputed != 1 {
		t.Fatalf("wave once Ready says yes: %+v, %v", res, err)
	}
	if got := rep.arm(0) - calls; got != 1 {
		t.Fatalf("the logged wave asked Ready %d times, want once", got)
	}
	recs := rep.records()
	if len(recs) != handed+1 {
		t.Fatalf("%d records handed on, want %d", len(recs), handed+1)
	}
	if w := recs[len(recs)-1]; w.FirstLSN != before+1 || len(w.Payload) == 0 || w.Payload[0] != record.WaveFormatVersion || res.LastLSN != w.LastLSN {
		t.Fatalf("the wave's record (LSNs %d..%d, version byte %v, wave result %+v): want LSN %d.. holding its wave op (format %d) last", w.FirstLSN, w.LastLSN, w.Payload[:min(1, len(w.Payload))], res, before+1, record.WaveFormatVersion)
	}
	if b, _, err := e.ReadPage(ids[1], nil); err != nil || string(b) != "parent!!" {
		t.Fatalf("derived page after the wave: %q, %v", b, err)
	}
}

// TestReplicatorNotReadyBindNamesNoParams: a Bind refused because the
// Replicator is not ready says so, and does not blame the params (whose
// size Bind checks early). Control: with Ready asked in that early size
// check, the refusal read "binding page 2: params: ... replication failed".
func TestReplicatorNotReadyBindNamesNoParams(t *testing.T) {
	rep := &flipReplicator{}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated})
	ids := mustCreate(t, e, 2, 8)
	before := e.LastLSN()
	rep.arm(1)
	err := e.Bind(ctx, ids[1], "passthrough", nil, []PageID{ids[0]})
	if !errors.Is(err, ErrReplication) || strings.Contains(err.Error(), "params") || !strings.Contains(err.Error(), "refused before it was logged") {
		t.Fatalf("Bind while the Replicator is not ready: %v, want ErrReplication saying it was refused before it was logged, naming no params", err)
	}
	if e.LastLSN() != before || e.Err() != nil {
		t.Fatalf("after the refused Bind: LSN %d (was %d), bus error %v", e.LastLSN(), before, e.Err())
	}
	if err := e.Bind(ctx, ids[1], "passthrough", nil, []PageID{ids[0]}); err != nil {
		t.Fatalf("Bind once ready: %v", err)
	}
}
