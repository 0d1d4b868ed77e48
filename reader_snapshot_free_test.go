package mmsb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/shmtest"
)

// A Snapshot must be the state at one committed LSN. The writer applies a
// batch's operations (Bus.applyOp: page.Store.FreeAt, CreateAt, deltas
// under the seqlock) and publishes the batch's last LSN after them
// (page.Store.PublishLSN). A Snapshot that read the committed LSN L, and
// then found a page missing that a commit after L had freed but not yet
// published, saw the committed LSN still equal to L and returned
// ErrPageNotFound for a page that existed at L.
//
// The tests below play the writer with the store the bus uses, so that
// they can stop it between the apply and the publish, where a Bus commit
// cannot be stopped: the region is a real one, published under the bus
// directory's region name by this process, and read through OpenReader.

// TestReaderSnapshotFreeNotPublished: a free applied by a commit not yet
// published (the writer between applyOp and PublishLSN) is not reported
// as ErrPageNotFound at the LSN before it, where the page existed: the
// Snapshot waits for that commit, and fails with ErrSnapshotBusy when it
// is not published within WriterTimeout. Once published, the page is
// missing at the new LSN (ErrPageNotFound, rightly), and a page that
// never existed is ErrPageNotFound at once.
func TestReaderSnapshotFreeNotPublished(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	w := shmtest.NewWriter(t, dir, shm)
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, WriterTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	if _, _, err := rd.Snapshot([]mmsb.PageID{99}); !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("page 99 never existed: %v, want ErrPageNotFound", err)
	}
	w.Free(1) // LSN 3, applied; committed LSN still 2
	snap, at, err := rd.Snapshot([]mmsb.PageID{1})
	if errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("page 1 freed at LSN 3, committed LSN 2: Snapshot says %v (page 1 exists at LSN 2)", err)
	}
	if !errors.Is(err, mmsb.ErrSnapshotBusy) {
		t.Fatalf("page 1 freed by an unpublished commit: Snapshot = %v at %d, %v; want ErrSnapshotBusy", snap, at, err)
	}
	// Page 2 is untouched: readable at LSN 2 while the free is pending.
	if snap, at, err := rd.Snapshot([]mmsb.PageID{2}); err != nil || at != 2 || snap[0].Data[0] != 2 {
		t.Fatalf("page 2 while the free of page 1 is pending: %v at %d, %v", snap, at, err)
	}
	w.Publish()
	if _, _, err := rd.Snapshot([]mmsb.PageID{2, 1}); !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("page 1 freed at published LSN 3: %v, want ErrPageNotFound", err)
	}
	if snap, at, err := rd.Snapshot([]mmsb.PageID{2}); err != nil || at != 3 {
		t.Fatalf("page 2 at LSN 3: %v at %d, %v", snap, at, err)
	}
}

// TestReaderSnapshotFreeAndRecreateInOneCommit: a commit that frees page
// 1 and creates it again (LSNs 3 and 4, published together as 4) leaves
// page 1 in place at every committed LSN, so a Snapshot taken while the
// commit is applied must return it: the old page at LSN 2 or the new one
// at LSN 4, never ErrPageNotFound. The Snapshot starts once the free is
// applied, so that it finds page 1 missing under committed LSN 2 (whatever
// the scheduling, the one right answer is the state at LSN 4).
func TestReaderSnapshotFreeAndRecreateInOneCommit(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	w := shmtest.NewWriter(t, dir, shm)
	// A long WriterTimeout: the commit below is published well within it.
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, WriterTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()

	w.Free(1) // LSN 3
	type result struct {
		snap []mmsb.SnapshotPage
		at   mmsb.LSN
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, at, err := rd.Snapshot([]mmsb.PageID{2, 1})
		done <- result{snap, at, err}
	}()
	// Give the Snapshot time to meet the missing page (not needed for
	// the result, which is the same whenever it runs).
	select {
	case r := <-done:
		t.Fatalf("Snapshot returned while the commit freeing page 1 is unpublished: %v at %d, %v", r.snap, r.at, r.err)
	case <-time.After(20 * time.Millisecond):
	}
	w.Create(1, 9) // LSN 4: the same commit recreates page 1
	w.Publish()
	r := <-done
	if r.err != nil {
		t.Fatalf("page 1 exists at every committed LSN: Snapshot = %v", r.err)
	}
	if r.at != 4 || len(r.snap) != 2 || r.snap[0].Data[0] != 2 || r.snap[1].Data[0] != 9 || r.snap[1].LSN != 4 {
		t.Fatalf("Snapshot = %+v at %d, want pages 2 (bytes 2) and 1 (bytes 9, LSN 4) at LSN 4", r.snap, r.at)
	}
}

// TestReaderSnapshotAfterFreePage: through a real bus, a page freed by a
// committed FreePage is ErrPageNotFound in a Snapshot at once (the header
// word of the last free is no later than the committed LSN), and the
// other pages read as before.
func TestReaderSnapshotAfterFreePage(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	ctx := t.Context()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm, WriterTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := bus.FreePage(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rd.Snapshot([]mmsb.PageID{ids[1], ids[0]}); !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("page %d freed by a committed FreePage: %v, want ErrPageNotFound", ids[0], err)
	}
	snap, at, err := rd.Snapshot([]mmsb.PageID{ids[1]})
	if err != nil || at != bus.LastLSN() || snap[0].ID != ids[1] {
		t.Fatalf("page %d: %v at %d, %v; committed LSN %d", ids[1], snap, at, err, bus.LastLSN())
	}
}
