package inspector_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestAnswersCountAgainstServerBounds: the inspector's large answers
// (ListPages, GetPage, Provenance, Graph, and the entries a QueryLog with
// newest holds until it sends them) count their bytes against the
// server's bounds on answer bytes (server.HoldAnswer), at least their
// encoded size, and an answer those bounds refuse is the call's error,
// resource_exhausted. None was counted: served beside the server, behind
// its LimitRequests, a client that read none of its inspector answers
// held about 1 MB per request in flight beyond the server's bounds.
func TestAnswersCountAgainstServerBounds(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 3)
	a, b, sum := ids[0], ids[1], ids[2]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, []mmsb.PageID{a, b}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, []byte{byte(i), 1, 2, 3})}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	in, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	var mu sync.Mutex
	counted := map[string]int{}
	var refuse error
	inspector.SetAnswerHold(in, func(_ context.Context, what string, n int) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse != nil {
			return refuse
		}
		counted[what] += n
		return nil
	})
	calls := []struct {
		what string
		call func() (proto.Message, error)
	}{
		{"ListPages", func() (proto.Message, error) {
			r, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{}))
			if err != nil {
				return nil, err
			}
			return r.Msg, nil
		}},
		{"GetPage", func() (proto.Message, error) {
			r, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(sum), Recent: 16}))
			if err != nil {
				return nil, err
			}
			return r.Msg, nil
		}},
		{"Provenance", func() (proto.Message, error) {
			r, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(sum), Length: 4, Depth: 4}))
			if err != nil {
				return nil, err
			}
			return r.Msg, nil
		}},
		{"Graph", func() (proto.Message, error) {
			r, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: uint64(sum), Depth: 2}))
			if err != nil {
				return nil, err
			}
			return r.Msg, nil
		}},
	}
	for _, tc := range calls {
		msg, err := tc.call()
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		mu.Lock()
		got := counted[tc.what]
		mu.Unlock()
		if size := proto.Size(msg); size == 0 || got < size {
			t.Errorf("%s: its answer of %d bytes counted %d bytes against the server's bounds, want at least its size", tc.what, size, got)
		}
	}
	entries, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(a), Limit: 10, Newest: true})
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, e := range entries {
		size += proto.Size(e)
	}
	mu.Lock()
	got := counted["QueryLog"]
	mu.Unlock()
	if len(entries) != 10 || got < size {
		t.Errorf("QueryLog newest: %d entries of %d bytes counted %d bytes, want 10 entries and at least their size", len(entries), size, got)
	}

	// Refused by the bounds: each call fails with their error.
	mu.Lock()
	refuse = connect.NewError(connect.CodeResourceExhausted, errors.New("answer bytes reached"))
	mu.Unlock()
	for _, tc := range calls {
		if _, err := tc.call(); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%s refused by the answer bounds: %v, want resource_exhausted", tc.what, err)
		}
	}
	if _, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(a), Limit: 10, Newest: true}); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("QueryLog newest refused by the answer bounds: %v, want resource_exhausted", err)
	}
}
