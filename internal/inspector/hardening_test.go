package inspector_test

import (
	"bytes"
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// drainLog runs a QueryLog request and returns its entries and the
// stream's error.
func drainLog(t *testing.T, c interface {
	QueryLog(context.Context, *connect.Request[inspectorv1.QueryLogRequest]) (*connect.ServerStreamForClient[inspectorv1.LogEntry], error)
}, req *inspectorv1.QueryLogRequest) ([]*inspectorv1.LogEntry, error) {
	t.Helper()
	st, err := c.QueryLog(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	var out []*inspectorv1.LogEntry
	for st.Receive() {
		out = append(out, st.Msg())
	}
	return out, st.Err()
}

// A log query from an LSN a checkpoint has trimmed from the log is the
// caller's mistake (failed_precondition, as docs/inspector.md says, and as
// BusService answers), not an internal error of the server.
func TestQueryLogTrimmedIsFailedPrecondition(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{SegmentBytes: 4096, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	fill := bytes.Repeat([]byte{1}, 1000)
	for i := range 40 { // several 4 KiB segments
		fill[0] = byte(i)
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, fill)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("after"))}); err != nil {
		t.Fatal(err)
	}
	oldest := bus.Stats().Log.OldestLSN
	if oldest <= 2 {
		t.Fatalf("precondition: the checkpoint left the log from LSN %d, want it trimmed", oldest)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	for _, newest := range []bool{false, true} {
		_, err := drainLog(t, c, &inspectorv1.QueryLogRequest{FromLsn: 1, Newest: newest})
		if connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Errorf("QueryLog from LSN 1 (log holds LSN %d on, newest %v): %v, want failed_precondition", oldest, newest, err)
		}
	}
	// Control: from the oldest LSN held, the query answers.
	got, err := drainLog(t, c, &inspectorv1.QueryLogRequest{FromLsn: uint64(oldest)})
	if err != nil || len(got) == 0 || got[0].Lsn != uint64(oldest) {
		t.Errorf("QueryLog from the oldest LSN %d: %d entries, %v", oldest, len(got), err)
	}
}

// Requests that cannot mean anything are refused naming what was wrong,
// rather than answered as if they had asked for something else: a sort
// column that does not exist (it sorted by ID after reading every page's
// description), a log range starting after the committed LSN or a time
// range that ends before it starts (both answered with no operations, the
// first after scanning the whole log).
func TestNonsenseRequestsRefused(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	_, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort(99)}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("ListPages with sort 99: %v, want invalid_argument", err)
	}
	committed := uint64(bus.LastLSN())
	for _, req := range []*inspectorv1.QueryLogRequest{
		{FromLsn: committed + 1},
		{FromLsn: 1 << 62},
		{FromTimeUnixNano: 2000, ToTimeUnixNano: 1000},
	} {
		if _, err := drainLog(t, c, req); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("QueryLog(%v): %v, want invalid_argument", req, err)
		}
	}
	// Controls: every sort column, and the last committed LSN, answer.
	for s := range inspectorv1.PageSort_name {
		if _, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort(s), Limit: 1})); err != nil {
			t.Errorf("ListPages sorted by %v: %v", inspectorv1.PageSort(s), err)
		}
	}
	if got, err := drainLog(t, c, &inspectorv1.QueryLogRequest{FromLsn: committed}); err != nil || len(got) != 1 {
		t.Errorf("QueryLog from the committed LSN %d: %d entries, %v; want 1", committed, len(got), err)
	}
}

// A masked delta can write every other byte of a page: tens of thousands
// of ranges (8M on a 16 MiB page). The log view shows 3 of them per
// operation and the page view highlights those in its window, but every
// range was sent (and, for newest, kept for every entry of the ring).
func TestWrittenRangesAreBounded(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	const size = 64 << 10
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	mask := bytes.Repeat([]byte{0x55}, size/8) // bytes 0, 2, 4, ...
	d := mmsb.Delta{Page: id, Form: delta.FormMaskedDense, Mask: mask, MaskLen: size, Payload: bytes.Repeat([]byte{7}, size)}
	if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
		t.Fatal(err)
	}
	for _, newest := range []bool{false, true} {
		got, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(id), Newest: newest})
		if err != nil || len(got) != 2 {
			t.Fatalf("log of page %d: %d entries, %v", id, len(got), err)
		}
		w := got[1]
		if n := len(w.Ranges); n > 64 || n == 0 {
			t.Errorf("newest %v: a delta with %d ranges listed %d of them, want 1..64", newest, size/2, n)
		}
		if len(w.Ranges) > 0 && (w.Ranges[0].Lo != 0 || w.Ranges[0].Hi != 1) {
			t.Errorf("first range [%d, %d), want [0, 1)", w.Ranges[0].Lo, w.Ranges[0].Hi)
		}
	}
	// The page view's window [2048, 3072): the 512 ranges in it are all
	// there (they are highlighted), and not the other 32,000.
	res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: 2048, WindowLength: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msg.Recent) != 1 {
		t.Fatalf("recent writes: %d, want 1", len(res.Msg.Recent))
	}
	inWindow := 0
	for _, r := range res.Msg.Recent[0].Ranges {
		if r.Hi > 2048 && r.Lo < 3072 {
			inWindow++
		}
	}
	if n := len(res.Msg.Recent[0].Ranges); inWindow != 512 || n > 512+64 {
		t.Errorf("recent write: %d ranges, %d in the window [2048, 3072); want the window's 512 and at most 64 more", n, inWindow)
	}
}
