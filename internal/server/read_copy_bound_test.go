package server_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestReadRangesCopyBound: each range item of a Read was cut from a fresh
// copy of its whole page, so a request of a few KB (one-byte ranges
// alternating between two 16 MiB pages) made the server copy gigabytes,
// and 2^20 such items 32 TiB. Then ranges of one page in a row shared one
// copy and a request needing more copying was refused. Now a range copies
// only its bytes (Bus.ReadPageRange): the alternating ranges are answered,
// byte for byte, allocating far less than one of the pages, as are the
// same ranges grouped by page.
func TestReadRangesCopyBound(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	var ids [2]mmsb.PageID
	for k := range ids {
		id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: mmsb.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(10 + k)})}); err != nil {
			t.Fatal(err)
		}
		ids[k] = id
	}
	const n = 200 // 200 pages copied when alternating: 3.2 GiB, over the bound
	item := func(k int) *mmsbv1.ReadItem { return &mmsbv1.ReadItem{Page: uint64(ids[k]), Length: 1} }
	var alternating, grouped []*mmsbv1.ReadItem
	for i := range n {
		alternating = append(alternating, item(i%2))
		grouped = append(grouped, item(i*2/n))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := f.c.Read(ctx, alternating, 0)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("one-byte ranges alternating between two pages: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > mmsb.MaxPageSize/4 {
		t.Errorf("200 one-byte ranges of two 16 MiB pages allocated %d bytes", got)
	}
	for i, p := range resp.GetPages() {
		if k := i % 2; len(p.GetData()) != 1 || p.GetData()[0] != byte(10+k) || p.GetPage() != uint64(ids[k]) {
			t.Fatalf("alternating item %d: page %d bytes %v, want page %d byte %d", i, p.GetPage(), p.GetData(), ids[k], 10+k)
		}
	}
	resp, err = f.c.Read(ctx, grouped, 0)
	if err != nil {
		t.Fatalf("the same ranges grouped by page: %v", err)
	}
	for i, p := range resp.GetPages() {
		if k := i * 2 / n; len(p.GetData()) != 1 || p.GetData()[0] != byte(10+k) || p.GetPage() != uint64(ids[k]) {
			t.Fatalf("item %d: page %d bytes %v, want page %d byte %d", i, p.GetPage(), p.GetData(), ids[k], 10+k)
		}
	}
}
