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

// TestRecentWritesDescribesOnlyThoseShown: GetPage describes (byte
// ranges and all) only the recent writes it answers with, not every write
// of the page in the LSN window it searched. A page with 512 masked
// deltas of 8,192 ranges each, asked for its last write, allocated 305 MB
// for an answer of 8,192 ranges (every write's ranges were built and held
// until the newest was picked); the limit here is 32 MB. The answers, the
// newest write alone and the last 8 newest first, are checked too.
func TestRecentWritesDescribesOnlyThoseShown(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	const size, writes = 16 << 10, 512
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	mask := bytes.Repeat([]byte{0x55}, size/8) // bytes 0, 2, 4, ...: size/2 ranges
	var lsns []mmsb.LSN
	for i := range writes {
		d := mmsb.Delta{Page: id, Form: delta.FormMaskedDense, Mask: mask, MaskLen: size, Payload: bytes.Repeat([]byte{byte(i)}, size)}
		info, err := bus.Commit(ctx, []mmsb.Delta{d})
		if err != nil {
			t.Fatal(err)
		}
		lsns = append(lsns, info.FirstLSN)
	}
	req := &inspectorv1.GetPageRequest{Id: uint64(id), WindowLength: size, Recent: 1}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := c.GetPage(ctx, connect.NewRequest(req))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
		t.Errorf("GetPage with the last write of %d, each of %d ranges, allocated %d MB", writes, size/2, got>>20)
	}
	if r := res.Msg.Recent; len(r) != 1 || r[0].Lsn != uint64(lsns[writes-1]) || len(r[0].Ranges) != size/2 {
		t.Fatalf("recent writes: %d, want the last (LSN %d) with its %d ranges", len(r), lsns[writes-1], size/2)
	}
	res, err = c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: 2048, WindowLength: 1024, Recent: 8}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.Recent) != 8 {
		t.Fatalf("recent writes: %d, want 8", len(res.Msg.Recent))
	}
	for i, w := range res.Msg.Recent {
		if want := lsns[writes-1-i]; w.Lsn != uint64(want) || len(w.Ranges) != 512+64 {
			t.Errorf("recent write %d: LSN %d with %d ranges, want LSN %d with %d (its first 64 and the window's 512)", i, w.Lsn, len(w.Ranges), want, 512+64)
		}
	}
}
