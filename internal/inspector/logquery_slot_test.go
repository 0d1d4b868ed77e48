package inspector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLogQueryTakesTheServersSlot: the inspector's QueryLog stream takes
// one of the server's log query slots (Options.LogQuerySlot,
// --max-log-queries), which the server's own QueryLog shares, so a
// read-role user cannot run more log scans at once through the inspector.
// With the server's one slot held it is refused with resource_exhausted;
// released, the same query answers.
func TestLogQueryTakesTheServersSlot(t *testing.T) {
	ctx := context.Background()
	bus, _, srv := busWithOneLogSlot(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, LogQuerySlot: srv.LogQuerySlot})
	entries := func() (int, error) {
		st, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{}))
		if err != nil {
			return 0, err
		}
		defer st.Close()
		n := 0
		for st.Receive() {
			n++
		}
		return n, st.Err()
	}
	release, err := srv.LogQuerySlot() // the server's one slot, held
	if err != nil {
		t.Fatal(err)
	}
	if n, err := entries(); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("inspector log query with the server's only slot held: %d entries, %v (code %v), want resource_exhausted", n, err, connect.CodeOf(err))
	}
	release()
	if n, err := entries(); err != nil || n != 2 {
		t.Fatalf("inspector log query once the slot is free: %d entries, %v; want 2 (the create and the write)", n, err)
	}
}

// TestUnaryLogReadsTakeTheServersSlot: the inspector's other reads of the
// log take one of the server's log query slots too: a page view's search
// for its recent writes (GetPage), a Provenance answer, and each scan of a
// Changes stream. They took none, so a read-role user ran as many log
// scans at once as it sent GetPage calls, past --max-log-queries. With
// the server's one slot held, GetPage and Provenance are refused with
// resource_exhausted naming the bound, and a Changes message reports
// pages_truncated instead of reading the log; released, the same calls
// answer and Changes names the page written.
func TestUnaryLogReadsTakeTheServersSlot(t *testing.T) {
	ctx := context.Background()
	bus, id, srv := busWithOneLogSlot(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, LogQuerySlot: srv.LogQuerySlot, PollInterval: time.Millisecond})
	getPage := func() error {
		_, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowLength: 16}))
		return err
	}
	provenance := func() error {
		_, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(id), Length: 1}))
		return err
	}
	changes, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = changes.Close() })
	if !changes.Receive() {
		t.Fatalf("Changes: no first message: %v", changes.Err())
	}
	// nextChange commits a write to the page and returns the Changes
	// message that covers it.
	nextChange := func() *inspectorv1.ChangesResponse {
		t.Helper()
		info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 1, []byte("y"))})
		if err != nil {
			t.Fatal(err)
		}
		for changes.Receive() {
			if m := changes.Msg(); m.GetCommittedLsn() >= uint64(info.LastLSN) {
				return m
			}
		}
		t.Fatalf("Changes ended: %v", changes.Err())
		return nil
	}

	release, err := srv.LogQuerySlot() // the server's one slot, held
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		do   func() error
	}{{"GetPage", getPage}, {"Provenance", provenance}} {
		err := call.do()
		if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-log-queries") {
			t.Errorf("%s with the server's only log query slot held: %v (code %v), want resource_exhausted naming --max-log-queries", call.name, err, connect.CodeOf(err))
		}
	}
	if m := nextChange(); !m.GetPagesTruncated() || len(m.GetPages()) != 0 {
		t.Errorf("Changes with the slot held: pages %v, truncated %v; want pages_truncated and no pages read from the log", m.GetPages(), m.GetPagesTruncated())
	}
	release()
	for _, call := range []struct {
		name string
		do   func() error
	}{{"GetPage", getPage}, {"Provenance", provenance}} {
		if err := call.do(); err != nil {
			t.Errorf("%s once the slot is free: %v", call.name, err)
		}
	}
	if m := nextChange(); m.GetPagesTruncated() || len(m.GetPages()) != 1 || m.GetPages()[0] != uint64(id) {
		t.Errorf("Changes once the slot is free: pages %v, truncated %v; want [%d]", m.GetPages(), m.GetPagesTruncated(), id)
	}
	// Every slot taken was given back: the one slot can be taken again.
	r, err := srv.LogQuerySlot()
	if err != nil {
		t.Fatalf("the server's slot after the inspector's reads: %v (one was not released)", err)
	}
	r()
}

// busWithOneLogSlot opens an in-memory bus with one page written once
// and a server over it that allows one log query at a time.
func busWithOneLogSlot(t *testing.T) (*mmsb.Bus, mmsb.PageID, *server.Server) {
	t.Helper()
	ctx := context.Background()
	bus := memBus(t)
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, MaxLogQueries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return bus, id, srv
}
