package mmsb

import "testing"

// TestReadPageAtInsideBatchReadsItsEnd: ReadPageAt (the page-only replay
// that the server's and inspector's as-of reads, mmsb_read_at and
// Python's read_at use) at an LSN inside a batch reads the state at that
// batch's end, as Replay's ToLSN stops: the page's bytes and epoch with
// every delta of the batch, a later one that writes the page again
// included. It read half a batch (y's old bytes, x at the epoch of its
// first delta), a state no reader ever saw. Also for the pages a
// CreatePages batch made: all of them exist as of its first LSN.
func TestReadPageAtInsideBatchReadsItsEnd(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	ids := mustCreate(t, e, 2, 8)
	x, y := ids[0], ids[1]
	commitT(t, e, w(x, 0, "x0"), w(y, 0, "y0"))
	batch := commitT(t, e, w(x, 0, "x1"), w(y, 0, "y1"), w(x, 2, "x2"))
	createdAt := e.LastLSN() + 1
	created, err := e.CreatePages(ctx, []PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	commitT(t, e, w(x, 0, "zz"), w(y, 0, "zz"))
	_, liveX, _ := e.ReadPage(x, nil)
	for lsn := batch.FirstLSN; lsn <= batch.LastLSN; lsn++ {
		bx, ex, err := e.ReadPageAt(ctx, x, lsn)
		if err != nil {
			t.Fatal(err)
		}
		by, ey, err := e.ReadPageAt(ctx, y, lsn)
		if err != nil {
			t.Fatal(err)
		}
		if string(bx[:4]) != "x1x2" || ex != liveX-1 || string(by[:2]) != "y1" || ey != 2 {
			t.Fatalf("ReadPageAt at LSN %d inside the batch %d..%d: x=%q epoch %d, y=%q epoch %d; want the batch's end: x=\"x1x2\" epoch %d, y=\"y1\" epoch 2",
				lsn, batch.FirstLSN, batch.LastLSN, bx[:4], ex, by[:2], ey, liveX-1)
		}
	}
	for _, id := range created {
		if _, _, err := e.ReadPageAt(ctx, id, createdAt); err != nil {
			t.Fatalf("ReadPageAt(page %d) at the first LSN of the CreatePages that made it: %v", id, err)
		}
	}
}
