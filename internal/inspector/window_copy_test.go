package inspector_test

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
)

// The page view copies only its window of a page: GetPage of a 1 KiB
// window of a 16 MiB page allocates far less than the page. Before, it
// read the whole page (16 MiB copied, under the bus's read lock, which
// commits wait for) to show 1 KiB. The window's bytes are the page's.
func TestGetPageCopiesOnlyTheWindow(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	const size = 16 << 20
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	if _, err := bus.Commit(ctx, []mmsb.Delta{{Page: id, Runs: []delta.Run{{Offset: size - 1500, Data: bytes.Repeat([]byte{9}, 1000)}}}}); err != nil {
		t.Fatal(err)
	}
	req := &inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: size - 1024, WindowLength: 1024}
	if _, err := c.GetPage(ctx, connect.NewRequest(req)); err != nil { // warm up
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := c.GetPage(ctx, connect.NewRequest(req))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Errorf("GetPage of a 1 KiB window of a 16 MiB page allocated %d bytes", got)
	}
	want := append(bytes.Repeat([]byte{9}, 524), make([]byte, 500)...)
	if !bytes.Equal(res.Msg.Data, want) || res.Msg.WindowOffset != req.WindowOffset {
		t.Errorf("window at %d: %d bytes, want the page's last 1024", res.Msg.WindowOffset, len(res.Msg.Data))
	}
	// The window may end the page exactly, and start at its end.
	for _, off := range []uint32{size, size - 10} {
		res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: off, WindowLength: 1024}))
		if err != nil || len(res.Msg.Data) != size-int(off) {
			t.Errorf("window at %d: %v, %v; want %d bytes", off, len(res.Msg.Data), err, size-int(off))
		}
	}
	_, err = c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: size + 1}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("window past the end: %v, want invalid argument", err)
	}
}
