package inspector_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// A Changes stream resumed from an LSN that a checkpoint has since trimmed
// from the log (a browser reconnecting with the last LSN it saw) cannot
// list the pages written in the trimmed span: it must say so
// (pages_truncated, so that the view re-reads everything) rather than list
// only the pages of the part still in the log, leaving the others stale.
func TestChangesAfterTrimmedLogIsTruncated(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", &mmsb.Options{SegmentBytes: 4096, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}, {Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := ids[0], ids[1]
	seen := bus.LastLSN() // what the browser had seen before it lost the stream
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, []byte("written while away"))}); err != nil {
		t.Fatal(err)
	}
	fill := bytes.Repeat([]byte{1}, 1000)
	for i := range 40 { // 40 KB of deltas: several 4 KiB segments
		fill[0] = byte(i)
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(b, 0, fill)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(b, 0, []byte("after"))}); err != nil {
		t.Fatal(err)
	}
	if oldest := bus.Stats().Log.OldestLSN; oldest <= seen+1 {
		t.Fatalf("precondition: the checkpoint left the log from LSN %d, want it trimmed past LSN %d", oldest, seen+1)
	}

	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, PollInterval: 10 * time.Millisecond})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := c.Changes(sctx, connect.NewRequest(&inspectorv1.ChangesRequest{AfterLsn: uint64(seen)}))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Receive() || st.Msg().CommittedLsn != uint64(seen) {
		t.Fatalf("first message: %v (%v), want the LSN asked for (%d)", st.Msg(), st.Err(), seen)
	}
	if !st.Receive() {
		t.Fatalf("no change reported: %v", st.Err())
	}
	m := st.Msg()
	if m.CommittedLsn != uint64(bus.LastLSN()) {
		t.Fatalf("change up to LSN %d, want %d", m.CommittedLsn, bus.LastLSN())
	}
	if !m.PagesTruncated && !slices.Contains(m.Pages, uint64(a)) {
		t.Fatalf("changes since LSN %d: pages %v, not truncated; page %d, written in the trimmed part of the log, is neither listed nor covered", seen, m.Pages, a)
	}
}
