package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestLeaderLogsOnlyRecordsThatApply: the leader's commit paths log a
// record before they apply it (commitOps), so their checks must refuse
// everything that would not apply. Each call that breaks a rule of the
// op it logs is refused with its sentinel, and logs and replicates
// nothing; every record the leader replicated applies on a follower,
// which checks each record whole before applying it
// (checkReplicatedOps), with the leader's rolling hash; and the leader's
// directory reopens (recovery applies every logged record). A check that
// missed something would log a record that does not apply: the leader
// fails ("logged op does not apply") and its log stops every later Open.
func TestLeaderLogsOnlyRecordsThatApply(t *testing.T) {
	dir := t.TempDir()
	rep := &fakeReplicator{}
	opts := &Options{Replicator: rep, Sync: SyncReplicated}
	l := openT(t, dir, opts)
	defer func() { _ = l.Close() }()
	// Pages 1..4 (16 bytes: two float64s); 5 is derived from 1; 2 -> 3 is a
	// control edge.
	ok := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	_, err := l.CreatePages(ctx, []PageSpec{{ID: 1, Size: 16}, {ID: 2, Size: 16}, {ID: 3, Size: 16}, {ID: 4, Size: 16}, {ID: 5, Size: 16}})
	ok("create", err)
	ok("bind", l.Bind(ctx, 5, "passthrough", nil, []PageID{1}))
	ok("edge", l.AddEdge(ctx, 2, 3, EdgeControl))
	big := make([]MetaEntry, 1)
	big[0] = MetaEntry{Key: "k", Value: make([]byte, 1<<20)}
	refused := []struct {
		name string
		call func() error
		want error
	}{
		{"create of a page that exists", func() error { _, err := l.CreatePages(ctx, []PageSpec{{ID: 2, Size: 8}}); return err }, ErrPageExists},
		{"create of one page twice", func() error {
			_, err := l.CreatePages(ctx, []PageSpec{{ID: 9, Size: 8}, {ID: 9, Size: 8}})
			return err
		}, ErrPageExists},
		{"create of size 0", func() error { _, err := l.CreatePages(ctx, []PageSpec{{ID: 9, Size: 0}}); return err }, ErrInvalidPage},
		{"create with too much metadata", func() error {
			_, err := l.CreatePages(ctx, []PageSpec{{ID: 9, Size: 8, Meta: big}})
			return err
		}, ErrInvalidPage},
		{"free of a page that does not exist", func() error { return l.FreePage(ctx, 42) }, ErrPageNotFound},
		{"free of a page with edges", func() error { return l.FreePage(ctx, 2) }, ErrPageInUse},
		{"free of a bound page", func() error { return l.FreePage(ctx, 5) }, ErrPageInUse},
		{"metadata of a page that does not exist", func() error { return l.SetMetadata(ctx, 42, []MetaEntry{{Key: "a"}}) }, ErrPageNotFound},
		{"too much metadata", func() error { return l.SetMetadata(ctx, 2, big) }, ErrInvalidPage},
		{"edge of an unknown type", func() error { return l.AddEdge(ctx, 2, 4, EdgeType(99)) }, ErrInvalidOption},
		{"edge from a page that does not exist", func() error { return l.AddEdge(ctx, 42, 4, EdgeControl) }, ErrPageNotFound},
		{"edge that closes a cycle", func() error { return l.AddEdge(ctx, 3, 2, EdgeControl) }, ErrCycle},
		{"data edge into a derived page from a non-parent", func() error { return l.AddEdge(ctx, 4, 5, EdgeData) }, ErrPageInUse},
		{"removal of a binding's data edge", func() error { return l.RemoveEdge(ctx, 1, 5, EdgeData) }, ErrPageInUse},
		{"bind to an unknown function", func() error { return l.Bind(ctx, 4, "no.such", nil, []PageID{1}) }, ErrUnknownFunc},
		{"bind of a page that is bound", func() error { return l.Bind(ctx, 5, "passthrough", nil, []PageID{2}) }, ErrPageInUse},
		{"bind to a parent that does not exist", func() error { return l.Bind(ctx, 4, "passthrough", nil, []PageID{42}) }, ErrPageNotFound},
		{"bind that closes a cycle", func() error { return l.Bind(ctx, 1, "passthrough", nil, []PageID{5}) }, ErrCycle},
		{"bind without parents", func() error { return l.Bind(ctx, 4, "f64.sum", nil, nil) }, ErrInvalidOption},
		{"unbind of a page that is not bound", func() error { return l.Unbind(ctx, 4) }, ErrNotDerived},
		{"flags of a page that does not exist", func() error { return l.ClearFlags(ctx, 42, 1) }, ErrPageNotFound},
		{"delta to a page that does not exist", func() error { _, err := l.Commit(ctx, []delta.Delta{w(42, 0, "x")}); return err }, ErrPageNotFound},
		{"delta past its page", func() error { _, err := l.Commit(ctx, []delta.Delta{w(2, 0, "x"), w(3, 15, "xy")}); return err }, ErrInvalidDelta},
		{"delta at a stale epoch", func() error {
			d := w(2, 0, "x")
			d.CheckEpoch, d.ExpectEpoch = true, 99
			_, err := l.Commit(ctx, []delta.Delta{d})
			return err
		}, ErrConflict},
	}
	for _, tc := range refused {
		lsn, n := l.LastLSN(), len(rep.records())
		err := tc.call()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if l.LastLSN() != lsn || len(rep.records()) != n || l.Err() != nil {
			t.Fatalf("%s: refused, but the leader is at LSN %d (was %d), replicated %d records (was %d), bus error %v",
				tc.name, l.LastLSN(), lsn, len(rep.records()), n, l.Err())
		}
	}
	// What the leader accepted, after the refusals: one record of each kind.
	ok("commit", func() error {
		d := w(2, 0, "y")
		d.CheckEpoch, d.ExpectEpoch = true, 0
		_, err := l.Commit(ctx, []delta.Delta{d, w(3, 8, "z"), w(1, 0, "p")})
		return err
	}())
	_, err = l.Propagate(ctx)
	ok("propagate", err)
	ok("metadata", l.SetMetadata(ctx, 4, []MetaEntry{{Key: "a", Value: []byte("b")}}))
	ok("remove edge", l.RemoveEdge(ctx, 2, 3, EdgeControl))
	ok("clear flags", l.ClearFlags(ctx, 3, 0xff))
	ok("unbind", l.Unbind(ctx, 5))
	ok("free", l.FreePage(ctx, 5))

	f := openMem(t, &Options{Follower: true})
	for _, rec := range rep.records() {
		if err := f.ApplyReplicated(ctx, &rec); err != nil {
			t.Fatalf("the follower refuses the leader's record LSN %d..%d: %v", rec.FirstLSN, rec.LastLSN, err)
		}
	}
	if got, want := hashOf(t, f), hashOf(t, l); got != want {
		t.Fatalf("follower state hash %#x, leader %#x", got, want)
	}
	want := hashOf(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	r := openT(t, dir, &Options{Replicator: &fakeReplicator{}, Sync: SyncReplicated})
	defer r.Close()
	if got := hashOf(t, r); got != want {
		t.Fatalf("reopened leader state hash %#x, before %#x", got, want)
	}
}
