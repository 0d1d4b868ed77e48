package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// A wave op too large for a record (here: a replication stream carrying at
// most 256 bytes, and a failing function holding back 301 pages) is left
// out of the wave's record: the wave's derived deltas are logged as before
// the wave op existed, and a wave that wrote nothing logs nothing. Before,
// every wave was refused with ErrRecordTooLarge for as long as the function
// failed: pages the failure did not concern (g) were never computed again.
// A follower of such a log waits for at least what the leader waits for
// (the conservative replay of a log without wave ops).
func TestWaveOpTooLargeIsLeftOut(t *testing.T) {
	fns := copyFuncs()
	fns["fail"] = func([][]byte, []byte, []byte) error { return errors.New("refused on purpose") }
	rep := &fakeReplicator{max: 256}
	e := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated, Functions: fns})
	defer e.Close()
	ids := mustCreate(t, e, 3, 8)
	r, g, f := ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, g, "copy", nil, []PageID{r}); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, f, "fail", nil, []PageID{r}); err != nil {
		t.Fatal(err)
	}
	const below = 300 // pages held back below f: a held set of over 300 bytes
	for len(ids) < 3+below {
		for _, d := range mustCreate(t, e, 10, 8) { // records under 256 bytes
			if err := e.Bind(ctx, d, "copy", nil, []PageID{f}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d)
		}
	}
	for i, v := range []string{"a", "a", "b"} {
		// "a" twice: the second wave writes nothing (g is cut off) but
		// consumes r, a wave-op-only record over the limit.
		if _, err := e.Commit(ctx, []delta.Delta{w(r, 0, v)}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Propagate(ctx)
		if !errors.Is(err, ErrRecompute) || errors.Is(err, ErrRecordTooLarge) {
			t.Fatalf("wave %d: %v; want f's failure alone (the wave applied)", i, err)
		}
		if res.HeldBack != 1+below {
			t.Fatalf("wave %d held back %d pages, want %d", i, res.HeldBack, 1+below)
		}
		if got, _, err := e.ReadPage(g, nil); err != nil || got[0] != v[0] {
			t.Fatalf("wave %d: page g = %q, %v; want it computed from r (%q)", i, got, err, v)
		}
		if got := e.Pending(); got != 1+below {
			t.Fatalf("wave %d: Pending = %d, want %d (the held-back pages)", i, got, 1+below)
		}
	}
	follower := openMem(t, &Options{Follower: true, Functions: fns})
	defer follower.Close()
	recs := rep.records()
	for i := range recs {
		if err := follower.ApplyReplicated(ctx, &recs[i]); err != nil {
			t.Fatalf("follower: record %d: %v", i, err)
		}
	}
	if got, want := follower.Pending(), e.Pending(); got < want {
		t.Fatalf("follower Pending = %d, below the leader's %d", got, want)
	}
	hf, errF := follower.StateHash()
	hl, errL := e.StateHash()
	if errF != nil || errL != nil || hf != hl {
		t.Fatalf("follower state hash %x (%v), leader %x (%v)", hf, errF, hl, errL)
	}
}
