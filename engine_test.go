package mmsb

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/page"
)

var ctx = context.Background()

// testClock is a deterministic clock: 1 µs per call.
func testClock() func() int64 {
	var t int64 = 1_700_000_000_000_000_000
	return func() int64 { t += 1000; return t }
}

// hashOf returns e's state hash, failing the test if the bus cannot give
// one (it is closed).
func hashOf(t interface{ Fatal(...any) }, e *Bus) uint64 {
	h, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func openT(t *testing.T, dir string, o *Options) *Bus {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Clock == nil {
		o.Clock = testClock()
	}
	e, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	// Closed at the end of the test whatever the test did (a second Close
	// does nothing): without it every test that left its bus open kept
	// it, its goroutines and its log rooms for the rest of the process,
	// ~0.9 GB live by the last test, and the 32-bit run under qemu-arm
	// died out of memory once.
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func openMem(t testing.TB, o *Options) *Bus {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Clock == nil {
		o.Clock = testClock()
	}
	e, err := Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func w(id PageID, off int, data string) delta.Delta {
	return delta.Delta{Page: id, Runs: []delta.Run{{Offset: uint32(off), Data: []byte(data)}}}
}

func mustCreate(t *testing.T, e *Bus, n, size int) []PageID {
	t.Helper()
	specs := make([]PageSpec, n)
	for i := range specs {
		specs[i] = PageSpec{Size: size}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCommitReadEpochs(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	ids := mustCreate(t, e, 3, 64)
	if ids[0] != 1 || ids[2] != 3 {
		t.Fatalf("auto IDs = %v, want 1..3", ids)
	}
	ds := []delta.Delta{w(1, 0, "hello"), w(2, 60, "abcd"), w(1, 2, "XY")}
	info, err := e.Commit(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstLSN != 4 || info.LastLSN != 6 {
		t.Fatalf("LSNs %d..%d, want 4..6 (creates took 1..3)", info.FirstLSN, info.LastLSN)
	}
	got, ep, err := e.ReadPage(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, []byte("heXYo")) || ep != 2 {
		t.Fatalf("page 1 = %q epoch %d", got[:5], ep)
	}
	if ds[2].Epoch != 2 || ds[2].LSN != info.LastLSN || ds[0].Time != info.Time {
		t.Fatalf("commit did not fill delta results: %+v", ds[2])
	}
}

func TestBadInputs(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	mustCreate(t, e, 2, 16)
	before := hashOf(t, e)
	lsn := e.LastLSN()
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"unknown page", func() error { _, err := e.Commit(ctx, []delta.Delta{w(99, 0, "x")}); return err }, ErrPageNotFound},
		{"write past end", func() error { _, err := e.Commit(ctx, []delta.Delta{w(1, 14, "xyz")}); return err }, delta.ErrOutOfRange},
		{"empty delta", func() error { _, err := e.Commit(ctx, []delta.Delta{{Page: 1}}); return err }, delta.ErrEmpty},
		{"empty batch", func() error { _, err := e.Commit(ctx, nil); return err }, ErrInvalidDelta},
		{"mask size mismatch", func() error {
			_, err := e.Commit(ctx, []delta.Delta{{Page: 1, Form: delta.FormMaskedDense, Mask: []byte{1}, MaskLen: 8, Payload: []byte{1}}})
			return err
		}, delta.ErrSizeMismatch},
		{"epoch conflict", func() error {
			d := w(1, 0, "x")
			d.CheckEpoch, d.ExpectEpoch = true, 7
			_, err := e.Commit(ctx, []delta.Delta{d})
			return err
		}, ErrConflict},
		{"atomic batch: bad last delta", func() error {
			_, err := e.Commit(ctx, []delta.Delta{w(1, 0, "good"), w(2, 0, "good"), w(3, 0, "bad")})
			return err
		}, ErrPageNotFound},
		{"gpu location", func() error { _, err := e.CreatePage(ctx, PageSpec{Size: 8, Location: GPU}); return err }, ErrInvalidPage},
		{"zero size", func() error { _, err := e.CreatePage(ctx, PageSpec{Size: 0}); return err }, ErrInvalidPage},
		{"too big", func() error { _, err := e.CreatePage(ctx, PageSpec{Size: base.MaxPageSize + 1}); return err }, ErrInvalidPage},
		{"duplicate id", func() error { _, err := e.CreatePage(ctx, PageSpec{ID: 1, Size: 8}); return err }, ErrPageExists},
		{"duplicate in batch", func() error {
			_, err := e.CreatePages(ctx, []PageSpec{{ID: 50, Size: 8}, {ID: 50, Size: 8}})
			return err
		}, ErrPageExists},
		{"metadata too large", func() error {
			_, err := e.CreatePage(ctx, PageSpec{Size: 8, Meta: []MetaEntry{{Key: "k", Value: make([]byte, page.MaxMetaBytes)}}})
			return err
		}, ErrInvalidPage},
		{"free unknown", func() error { return e.FreePage(ctx, 77) }, ErrPageNotFound},
		{"self loop", func() error { return e.AddEdge(ctx, 1, 1, EdgeData) }, ErrCycle},
		{"edge to unknown", func() error { return e.AddEdge(ctx, 1, 9, EdgeData) }, ErrPageNotFound},
		{"unknown function", func() error { return e.Bind(ctx, 2, "no.such.fn", nil, []PageID{1}) }, ErrUnknownFunc},
		{"unbind plain page", func() error { return e.Unbind(ctx, 2) }, ErrNotDerived},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err.Error() == c.want.Error() {
				t.Errorf("error %q carries no detail", err)
			}
		})
	}
	if hashOf(t, e) != before || e.LastLSN() != lsn {
		t.Fatalf("a refused operation changed the state (LSN %d -> %d)", lsn, e.LastLSN())
	}
	// Still usable afterwards.
	if _, err := e.Commit(ctx, []delta.Delta{w(1, 0, "ok")}); err != nil {
		t.Fatal(err)
	}
}

func TestCycleRefusedAndFreeInUse(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	mustCreate(t, e, 3, 8)
	for _, ed := range [][2]PageID{{1, 2}, {2, 3}} {
		if err := e.AddEdge(ctx, ed[0], ed[1], EdgeControl); err != nil {
			t.Fatal(err)
		}
	}
	lsn := e.LastLSN()
	err := e.AddEdge(ctx, 3, 1, EdgeData)
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("cycle not refused: %v", err)
	}
	if e.LastLSN() != lsn || len(e.Edges()) != 2 {
		t.Fatal("refused edge was logged or kept")
	}
	if err := e.FreePage(ctx, 2); !errors.Is(err, ErrPageInUse) {
		t.Fatalf("free of page with edges: %v", err)
	}
}

func TestSecondWriterLocked(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	defer e.Close()
	if _, err := Open(dir, &Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

// populate runs a small mixed workload and returns the expected bytes.
func populate(t *testing.T, e *Bus) {
	t.Helper()
	ids := mustCreate(t, e, 10, 128)
	for round := 0; round < 20; round++ {
		var ds []delta.Delta
		for i, id := range ids {
			ds = append(ds, w(id, (round*7+i)%120, string([]byte{byte(round), byte(i), 0xAB})))
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
		if round == 5 {
			if err := e.SetMetadata(ctx, ids[0], []MetaEntry{{Key: "owner", Value: []byte("test")}}); err != nil {
				t.Fatal(err)
			}
			if err := e.AddEdge(ctx, ids[0], ids[1], EdgeControl); err != nil {
				t.Fatal(err)
			}
		}
		if round == 10 {
			if err := e.FreePage(ctx, ids[9]); err != nil {
				t.Fatal(err)
			}
			ids = ids[:9]
		}
	}
}

func TestReopenRecoversState(t *testing.T) {
	for _, withCkpt := range []bool{false, true} {
		dir := t.TempDir()
		e := openT(t, dir, nil)
		populate(t, e)
		if withCkpt {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Commit(ctx, []delta.Delta{w(1, 0, "after checkpoint")}); err != nil {
				t.Fatal(err)
			}
		}
		hash, lsn, edges := hashOf(t, e), e.LastLSN(), len(e.Edges())
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e2 := openT(t, dir, nil)
		if hashOf(t, e2) != hash || e2.LastLSN() != lsn || len(e2.Edges()) != edges {
			t.Fatalf("ckpt=%v: reopened state differs: hash %x/%x lsn %d/%d", withCkpt, hashOf(t, e2), hash, e2.LastLSN(), lsn)
		}
		info, _ := e2.Page(1)
		if len(info.Meta) != 1 || info.Meta[0].Key != "owner" {
			t.Fatalf("metadata lost: %+v", info.Meta)
		}
		rep, err := e2.VerifyReplay(ctx, false)
		if err != nil || !rep.Equal() {
			t.Fatalf("replay check: %v %+v", err, rep)
		}
		// Commits continue with the next LSN.
		ci, err := e2.Commit(ctx, []delta.Delta{w(2, 0, "z")})
		if err != nil || ci.FirstLSN != lsn+1 {
			t.Fatalf("commit after reopen: %v lsn %d want %d", err, ci.FirstLSN, lsn+1)
		}
		e2.Close()
	}
}

func TestReplayToLSNAndReadAt(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	defer e.Close()
	mustCreate(t, e, 1, 8)
	var lsns []LSN
	for i := 0; i < 5; i++ {
		ci, err := e.Commit(ctx, []delta.Delta{w(1, 0, string(rune('a'+i)))})
		if err != nil {
			t.Fatal(err)
		}
		lsns = append(lsns, ci.LastLSN)
		if i == 2 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, l := range lsns {
		b, ep, err := e.ReadPageAt(ctx, 1, l)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != byte('a'+i) || ep != Epoch(i+1) {
			t.Fatalf("as of LSN %d: %q epoch %d", l, b[:1], ep)
		}
	}
	if b, _, err := e.ReadPageAt(ctx, 1, 0); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("as of LSN 0: %q, %v; want ErrInvalidOption (it answered with the current page)", b, err)
	}
	// A state that does not exist yet is a bad argument, not lost history
	// (Replay said ErrLogTruncated, as if the log had lost it).
	if b, _, err := e.ReadPageAt(ctx, 1, e.LastLSN()+1); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("as of the LSN after the last: %q, %v; want ErrInvalidOption", b, err)
	}
	if r, err := e.Replay(ctx, ReplayTarget{ToLSN: e.LastLSN() + 1}); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("replay to the LSN after the last: %v, %v; want ErrInvalidOption", r, err)
	}
	r, err := e.Replay(ctx, ReplayTarget{Page: 1, Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, ep, _ := r.ReadPage(1, nil)
	r.Close()
	if ep != 2 || b[0] != 'b' {
		t.Fatalf("replay to epoch 2: %q epoch %d", b[:1], ep)
	}
}

// Data edges into a derived page belong to its binding: a foreign Data edge
// is refused both after and before Bind, and nothing is logged.
func TestDataEdgesOwnedByBinding(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	mustCreate(t, e, 4, 8)
	if err := e.Bind(ctx, 3, "passthrough", nil, []PageID{1}); err != nil {
		t.Fatal(err)
	}
	lsn := e.LastLSN()
	if err := e.AddEdge(ctx, 2, 3, EdgeData); !errors.Is(err, ErrPageInUse) {
		t.Fatalf("foreign data edge into a derived page: %v", err)
	}
	if err := e.AddEdge(ctx, 2, 3, EdgeControl); err != nil {
		t.Fatalf("control edges are not owned by the binding: %v", err)
	}
	if err := e.AddEdge(ctx, 2, 4, EdgeData); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, 4, "passthrough", nil, []PageID{1}); !errors.Is(err, ErrPageInUse) {
		t.Fatalf("bind over a foreign data edge: %v", err)
	}
	if e.LastLSN() != lsn+2 {
		t.Fatalf("refused operations were logged: LSN %d, want %d", e.LastLSN(), lsn+2)
	}
}

func TestVerifyReplayNamesItsStart(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	defer e.Close()
	populate(t, e)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(1, 0, "tail")}); err != nil {
		t.Fatal(err)
	}
	fromEmpty, err := e.VerifyReplay(ctx, false)
	if err != nil || !fromEmpty.Equal() || fromEmpty.FromCheckpoint != "" {
		t.Fatalf("from LSN 1: %v %+v", err, fromEmpty)
	}
	fromCkpt, err := e.VerifyReplay(ctx, true)
	if err != nil || !fromCkpt.Equal() || fromCkpt.FromCheckpoint == "" {
		t.Fatalf("from the newest checkpoint: %v %+v", err, fromCkpt)
	}
}

// TestValidateBatchCountsOnlyAcceptedDeltas: a CheckEpoch delta is checked
// against the page's epoch plus the accepted deltas before it in the batch;
// a rejected delta to the same page does not count.
func TestValidateBatchCountsOnlyAcceptedDeltas(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 1, 8)
	a := ids[0]
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "x")}); err != nil { // epoch 1
		t.Fatal(err)
	}
	expect := func(ep Epoch) delta.Delta {
		d := w(a, 0, "y")
		d.CheckEpoch, d.ExpectEpoch = true, ep
		return d
	}
	ds := []delta.Delta{
		w(a, 0, "a"),       // accepted: epoch 2 once committed
		w(a, 7, "toolong"), // rejected: out of range
		expect(2),          // accepted: 1 + one accepted delta before it
		expect(2),          // rejected: the previous one makes it 3
	}
	var got []int
	n, err := e.ValidateBatch(ds, func(i int, err error) { got = append(got, i) })
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("accepted %d, rejected %v; want 2 accepted, [1 3] rejected", n, got)
	}
	// A nil reject asks for the count only (it panicked).
	if n, err := e.ValidateBatch(ds, nil); n != 2 || err != nil {
		t.Fatalf("ValidateBatch with a nil reject: %d, %v; want 2 accepted", n, err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{ds[0], ds[2]}); err != nil {
		t.Fatalf("committing the accepted deltas: %v", err)
	}
}
