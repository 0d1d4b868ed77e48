package inspector_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAsOfPageViewTakesTheServersSlot: an as-of page view replays the page
// only once it holds one of the server's as-of read slots
// (Options.AsOfSlot, --max-asof-reads), which the server's own as-of Reads
// share. It replayed unbounded: a read-role user of the inspector ran as
// many replays at once as it sent. With the server's one slot held, the
// view waits until its deadline; released, the same view answers. A view
// of the live page takes no slot.
func TestAsOfPageViewTakesTheServersSlot(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("then"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("now!"))}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, MaxAsOfReads: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, AsOfSlot: srv.AsOfSlot})
	release, err := srv.AsOfSlot(ctx) // the server's one slot, held
	if err != nil {
		t.Fatal(err)
	}
	asOf := &inspectorv1.GetPageRequest{Id: uint64(id), AsOfLsn: uint64(info.LastLSN), WindowLength: 16}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = c.GetPage(short, connect.NewRequest(asOf))
	cancel()
	if err == nil {
		t.Fatal("an as-of page view answered while the server's only as-of slot was held")
	}
	if code := connect.CodeOf(err); code != connect.CodeDeadlineExceeded && code != connect.CodeCanceled {
		t.Fatalf("as-of page view with the slot held: %v (code %v), want deadline_exceeded or canceled", err, code)
	}
	live, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowLength: 16}))
	if err != nil || !bytes.HasPrefix(live.Msg.GetData(), []byte("now!")) {
		t.Fatalf("live page view with the slot held: %v, %v", live, err)
	}
	release()
	res, err := c.GetPage(ctx, connect.NewRequest(asOf))
	if err != nil || !bytes.HasPrefix(res.Msg.GetData(), []byte("then")) {
		t.Fatalf("as-of page view once the slot is free: %v, %v", res, err)
	}
}
