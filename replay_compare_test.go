package mmsb

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/page"
)

// TestCompareStatesSeesEveryPageField: VerifyReplay's comparison must
// fail when a replayed page differs from the live one in any part of its
// state, not only in bytes, size and epoch: metadata, flags (raised by
// control edges) and the last-write LSN (what provenance answers) are
// state too. Before the fix a replay that lost a page's metadata or flags
// was reported Equal.
func TestCompareStatesSeesEveryPageField(t *testing.T) {
	ctx := context.Background()
	e, err := Open(t.TempDir(), &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 64, Meta: []MetaEntry{{Key: "k", Value: []byte("v")}}}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[0], ids[1], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 0, Data: []byte{1, 2, 3}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil { // raises ids[1]'s stale flag
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 8, Data: []byte{4}}}}}); err != nil {
		t.Fatal(err)
	}
	if e.flags[ids[1]] == 0 {
		t.Fatal("control edge raised no flag")
	}
	for _, tc := range []struct {
		name   string
		change func(r *Bus)
	}{
		{"unchanged", func(r *Bus) {}},
		{"metadata", func(r *Bus) {
			sl, _ := r.store.Lookup(ids[0])
			if err := r.store.SetMeta(sl, []page.MetaEntry{{Key: "k", Value: []byte("w")}}); err != nil {
				t.Fatal(err)
			}
		}},
		{"flags", func(r *Bus) { delete(r.flags, ids[1]) }},
		{"last-write-lsn", func(r *Bus) {
			sl, _ := r.store.Lookup(ids[0])
			r.store.SetLastLSN(sl, r.store.LastLSN(sl)-1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, fromEmpty := range []bool{true, false} {
				r, err := e.Replay(ctx, ReplayTarget{FromEmpty: fromEmpty})
				if err != nil {
					t.Fatal(err)
				}
				tc.change(r)
				e.mu.RLock()
				rep := compareStates(e, r)
				e.mu.RUnlock()
				r.Close()
				if want := tc.name == "unchanged"; rep.Equal() != want {
					t.Fatalf("from empty %v: Equal() = %v, want %v: %+v", fromEmpty, rep.Equal(), want, rep)
				}
			}
		})
	}
}
