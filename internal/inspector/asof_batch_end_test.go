package inspector_test

import (
	"bytes"
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/demo"
)

// TestGetPageAsOfInsideBatchListsItsEnd: a page viewed as of an LSN
// inside a batch shows the batch end's bytes (Bus.ReadPageAt stops there)
// and lists its recent writes up to the batch's end, a later write of
// the page in that batch included: the list agrees with the bytes. Until
// 2026-12-07 it stopped at the LSN asked, leaving out the write whose
// bytes the view showed. As of the LSN that ends the batch before, the
// list stops there (the control).
func TestGetPageAsOfInsideBatchListsItsEnd(t *testing.T) {
	bus, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	x, y := l.Notes[0], l.Notes[1]
	batch, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(x, 0, []byte("x1")), mmsb.Write(y, 0, []byte("y1")), mmsb.Write(x, 2, []byte("x2"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(x, 0, []byte("zz"))}); err != nil {
		t.Fatal(err)
	}
	for lsn := batch.FirstLSN - 1; lsn <= batch.LastLSN; lsn++ {
		want, wantEpoch, err := bus.ReadPageAt(ctx, x, lsn)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(x), AsOfLsn: uint64(lsn), WindowLength: demo.NoteBytes}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Msg.Data, want) || res.Msg.Epoch != uint64(wantEpoch) {
			t.Fatalf("as of LSN %d: epoch %d, bytes differ %v; want epoch %d (Bus.ReadPageAt)", lsn, res.Msg.Epoch, !bytes.Equal(res.Msg.Data, want), wantEpoch)
		}
		newest := uint64(0)
		if len(res.Msg.Recent) > 0 {
			newest = res.Msg.Recent[0].Lsn
		}
		switch {
		case lsn < batch.FirstLSN && newest >= uint64(batch.FirstLSN):
			t.Errorf("as of LSN %d, before the batch %d..%d: newest recent write at LSN %d, inside the batch", lsn, batch.FirstLSN, batch.LastLSN, newest)
		case lsn >= batch.FirstLSN && newest != uint64(batch.LastLSN):
			t.Errorf("as of LSN %d inside the batch %d..%d: newest recent write at LSN %d; want the batch's last write of the page, LSN %d, whose bytes the view shows",
				lsn, batch.FirstLSN, batch.LastLSN, newest, batch.LastLSN)
		}
	}
}
