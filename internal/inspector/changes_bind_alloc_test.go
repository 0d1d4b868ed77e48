package inspector_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestChangesDecodeNoBindParents: the Changes stream's scan of a span
// holding the Bind of a page to 2^16 parents lists the bound page and
// allocates under 128 KiB. It decoded all 2^16 parents of the Bind
// (512 KiB of page IDs and their growth), which no Changes message shows.
func TestChangesDecodeNoBindParents(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+1)
	sum := ids[n]
	before := bus.LastLSN()
	if err := bus.Bind(ctx, sum, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	cur := bus.LastLSN()
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	scan := func() {
		msg, err := inspector.ChangedPagesWith(ctx, in, before, cur)
		if err != nil {
			t.Fatal(err)
		}
		if msg.PagesTruncated || !slices.Contains(msg.Pages, uint64(sum)) {
			t.Fatalf("changes in (%d, %d]: pages %v (truncated %v), want page %d, the page bound", before, cur, msg.Pages, msg.PagesTruncated, sum)
		}
	}
	scan() // the first takes a log reader of its own; the next reuse it
	// The least of three scans: a pool a scan draws on may be filled
	// again during any one of them.
	got := ^uint64(0)
	runtime.GC()
	for range 3 {
		var b, a runtime.MemStats
		runtime.ReadMemStats(&b)
		scan()
		runtime.ReadMemStats(&a)
		got = min(got, a.TotalAlloc-b.TotalAlloc)
	}
	t.Logf("a scan over the Bind allocated %d bytes", got)
	if got > 128<<10 {
		t.Errorf("the Changes scan over the Bind of page %d to %d parents allocated %d bytes, over 128 KiB: the Bind's parents are decoded", sum, n, got)
	}
}

// TestChangesSkipWaveSets: the Changes stream's scan of a span holding a
// wave that held back 2^12 derived pages (each one's function failed)
// names no page, as a wave writes none, and allocates under 16 KiB. The
// scan decoded the wave's page sets whole (32 KiB of page IDs and their
// growth at each poll that met such a wave), which no Changes message
// shows.
func TestChangesSkipWaveSets(t *testing.T) {
	ctx := context.Background()
	fail := func([][]byte, []byte, []byte) error { return errors.New("test.fail fails") }
	bus, err := mmsb.Open("", &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{"test.fail": fail}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	const n = 1 << 12
	ids := createSmallPages(t, bus, n+1)
	root := ids[n]
	for _, id := range ids[:n] {
		if err := bus.Bind(ctx, id, "test.fail", nil, []mmsb.PageID{root}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(root, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	before := bus.LastLSN()
	if _, err := bus.Propagate(ctx); err == nil {
		t.Fatal("a wave of failing functions: Propagate succeeded")
	}
	cur := bus.LastLSN()
	held := 0
	if err := bus.QueryLog(ctx, mmsb.LogQuery{FromLSN: before + 1, ToLSN: cur, Kinds: []mmsb.OpKind{mmsb.OpWave}}, func(op *mmsb.LoggedOp) bool {
		held = max(held, len(op.Op.Held))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if held != n {
		t.Fatalf("the wave in (%d, %d] held back %d pages, want %d", before, cur, held, n)
	}
	in, _, _ := serveInspector(t, inspector.Options{Bus: bus})
	scan := func() {
		msg, err := inspector.ChangedPagesWith(ctx, in, before, cur)
		if err != nil {
			t.Fatal(err)
		}
		if msg.PagesTruncated || len(msg.Pages) != 0 {
			t.Fatalf("changes in (%d, %d], a wave: pages %v (truncated %v), want none", before, cur, msg.Pages, msg.PagesTruncated)
		}
	}
	scan() // the first takes a log reader of its own; the next reuse it
	got := ^uint64(0)
	runtime.GC()
	for range 3 {
		var b, a runtime.MemStats
		runtime.ReadMemStats(&b)
		scan()
		runtime.ReadMemStats(&a)
		got = min(got, a.TotalAlloc-b.TotalAlloc)
	}
	t.Logf("a scan over the wave allocated %d bytes", got)
	if got > 16<<10 {
		t.Errorf("the Changes scan over a wave that held back %d pages allocated %d bytes, over 16 KiB: the wave's page sets are decoded", n, got)
	}
}
