package mmsb

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestValidateBatchRejectMayCallBus: ValidateBatch called reject with the
// bus's read lock held, so a reject that committed (a write lock) hung
// the bus for good: that call, and every later Commit and Close. reject
// now runs after the lock is released, in order, once per refused delta;
// a bus call made from it works. The control: deltas accepted and refused
// as before, and the count is unchanged.
func TestValidateBatchRejectMayCallBus(t *testing.T) {
	// No openT: its cleanup Close would hang on a bus the defect left
	// locked, holding the whole package's run.
	e, err := Open("", &Options{Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.CreatePage(ctx, PageSpec{Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	type rejection struct {
		i   int
		err error
	}
	var got []rejection
	done := make(chan int, 1)
	go func() {
		n, verr := e.ValidateBatch([]Delta{Write(999, 0, []byte{1}), Write(id, 0, []byte{7}), Write(id, 9, []byte{1})}, func(i int, err error) {
			got = append(got, rejection{i, err})
			// Calls of the bus, a writer and a reader, from the callback.
			if _, cerr := e.Commit(ctx, []Delta{Write(id, 1, []byte{byte(i)})}); cerr != nil {
				t.Errorf("Commit in reject(%d): %v", i, cerr)
			}
			if _, _, rerr := e.ReadPage(id, nil); rerr != nil {
				t.Errorf("ReadPage in reject(%d): %v", i, rerr)
			}
		})
		if verr != nil {
			t.Errorf("ValidateBatch: %v", verr)
		}
		done <- n
	}()
	n := testutil.Recv(t, done, "ValidateBatch whose reject commits (the bus deadlocked)")
	defer func() { _ = e.Close() }()
	if n != 1 {
		t.Errorf("ValidateBatch accepted %d deltas, want 1", n)
	}
	if len(got) != 2 || got[0].i != 0 || got[1].i != 2 ||
		!errors.Is(got[0].err, ErrPageNotFound) || !errors.Is(got[1].err, ErrInvalidDelta) {
		t.Fatalf("rejections %+v; want 0 (ErrPageNotFound) then 2 (ErrInvalidDelta)", got)
	}
	data, _, err := e.ReadPage(id, nil)
	if err != nil || !slices.Equal(data, []byte{0, 2, 0, 0}) {
		t.Fatalf("page after the callbacks' commits = %v, %v; want [0 2 0 0]", data, err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{5})}); err != nil {
		t.Fatalf("Commit after ValidateBatch: %v", err)
	}
}

// TestValidateBatchNoRejectAllocs: the path with nothing refused (or no
// reject) allocates nothing more than before the fix, which collected
// rejections: none for a valid batch.
func TestValidateBatchNoRejectAllocs(t *testing.T) {
	e := openT(t, "", nil)
	id := mustCreate(t, e, 1, 8)[0]
	ds := []Delta{Write(id, 0, []byte{1}), Write(id, 2, []byte{2})}
	reject := func(int, error) { t.Error("reject called for a valid batch") }
	if a := testing.AllocsPerRun(50, func() { _, _ = e.ValidateBatch(ds, reject) }); a != 0 {
		t.Fatalf("ValidateBatch of a valid batch: %v allocations, want 0", a)
	}
}
