package mmsb

import (
	"errors"
	"math"
	"testing"
)

// TestPageIDsExhaustedStayExhausted: once page math.MaxUint64 has been
// created no automatic ID is left (CreatePages' doc), and nextID is 0. A
// later explicit create set nextID to its ID + 1 again (the "op.Page >=
// nextID" test is true of every ID once nextID wrapped to 0), so that an
// automatic create after {ID: 5000} returned 5001, an ID under a page in
// use: handed out again after a free, or wrongly. The same apply code runs
// live, at recovery and in Replay: all three must still refuse.
func TestPageIDsExhaustedStayExhausted(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	first := mustCreate(t, e, 1, 4)[0] // 1: automatic IDs work before
	if _, err := e.CreatePage(ctx, PageSpec{ID: math.MaxUint64, Size: 4}); err != nil {
		t.Fatal(err)
	}
	wantExhausted := func(where string, b *Bus) {
		t.Helper()
		id, err := b.CreatePage(ctx, PageSpec{Size: 4})
		if !errors.Is(err, ErrInvalidPage) {
			t.Fatalf("%s: automatic create after page %d exists = page %d, %v; want ErrInvalidPage (no ID left)", where, uint64(math.MaxUint64), id, err)
		}
	}
	wantExhausted("live, after MaxUint64", e)
	if _, err := e.CreatePage(ctx, PageSpec{ID: 5000, Size: 4}); err != nil {
		t.Fatal(err)
	}
	wantExhausted("live, after an explicit create of 5000", e)
	// A freed explicit ID created again.
	if err := e.FreePage(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePage(ctx, PageSpec{ID: first, Size: 4}); err != nil {
		t.Fatal(err)
	}
	wantExhausted("live, after re-creating freed page 1", e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openT(t, dir, nil) // recovery replays the creates from the log
	wantExhausted("after reopen (log)", e)
	r, err := Replay(ctx, dir, ReplayTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantExhausted("after Replay (log)", r)
	_ = r.Close()
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePage(ctx, PageSpec{ID: 6000, Size: 4}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir, nil) // the checkpoint, then a create from the log
	wantExhausted("after reopen (checkpoint and log)", e)
	r, err = Replay(ctx, dir, ReplayTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	wantExhausted("after Replay (checkpoint and log)", r)
}
