package inspector_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
)

// A page's log view asks for its newest operations (QueryLog newest):
// they must be found however far behind the bus's last LSN they are,
// which the view's old request (the last `limit` LSNs of the whole bus)
// did not: a page last written 300 operations ago showed no operations.
func TestQueryLogNewestFindsOldWrites(t *testing.T) {
	bus, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	target, other := l.Notes[1], l.Notes[2]
	var want []uint64
	for i := range 5 {
		info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(target, 0, []byte{byte(i)})})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, uint64(info.LastLSN))
	}
	for i := range 300 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(other, 0, []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	lsns := func(req *inspectorv1.QueryLogRequest) []uint64 {
		t.Helper()
		entries, err := drainLog(t, c, req)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, e := range entries {
			if e.Page != uint64(target) {
				t.Fatalf("entry of page %d in a query for page %d", e.Page, target)
			}
			out = append(out, e.Lsn)
		}
		return out
	}
	// The newest 3 of the page's operations (its creation and five
	// writes), oldest first.
	if got := lsns(&inspectorv1.QueryLogRequest{Page: uint64(target), Limit: 3, Newest: true}); !slices.Equal(got, want[2:]) {
		t.Errorf("newest 3 writes of page %d: LSNs %v, want %v", target, got, want[2:])
	}
	// Without newest, the oldest matches: its creation first.
	if got := lsns(&inspectorv1.QueryLogRequest{Page: uint64(target), Limit: 3}); len(got) != 3 || got[2] != want[1] {
		t.Errorf("oldest 3 operations of page %d: LSNs %v, want the creation and %v", target, got, want[:2])
	}
	// More room than matches: all of them, in order.
	if got := lsns(&inspectorv1.QueryLogRequest{Page: uint64(target), Limit: 100, Newest: true}); len(got) != 6 || !slices.Equal(got[1:], want) {
		t.Errorf("all operations of page %d: LSNs %v, want the creation then %v", target, got, want)
	}
}

// The bytes a log entry shows are at most 256 and say they were cut.
func TestQueryLogDataIsCut(t *testing.T) {
	bus, _, c, _ := serviceFixture(t)
	ctx := context.Background()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{7}, 3000)
	d := mmsb.Delta{Page: id, Form: mmsb.FormRuns, Runs: []mmsb.Run{{Offset: 0, Data: []byte{1, 2}}, {Offset: 10, Data: big}}}
	if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
		t.Fatal(err)
	}
	st, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Page: uint64(id), Limit: 1, Newest: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Receive() {
		t.Fatalf("no entry: %v", st.Err())
	}
	e := st.Msg()
	if len(e.Data) != 256 || !e.DataTruncated || e.Data[0] != 1 || e.Data[1] != 2 || e.Data[255] != 7 {
		t.Errorf("data of a 3002-byte write: %d bytes, truncated %v, starts % x", len(e.Data), e.DataTruncated, e.Data[:min(4, len(e.Data))])
	}
}
