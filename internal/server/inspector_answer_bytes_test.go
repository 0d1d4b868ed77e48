package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestInspectorAnswersBehindLimitRequests: the web inspector mounted
// behind the real LimitRequests (as `mmsb serve` mounts it) counts its
// answers against the same bounds on answer bytes as the server's
// (server.HoldAnswer): with another answer in flight holding nearly all
// of MaxAnswerBytes, its ListPages, GetPage, Provenance and Graph are
// refused with resource_exhausted naming the bound (Mmsb-Busy), and each
// refusal gives back what it counted; once that answer is sent, they are
// answered, and every byte they counted is given back once they are, as
// are those of a handler that panicked. The inspector's own test counts through a hook in HoldAnswer's place
// (TestAnswersCountAgainstServerBounds); this one sees the real bounds.
func TestInspectorAnswersBehindLimitRequests(t *testing.T) {
	const bound, other = 4096, 4096 - 16
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	specs := make([]mmsb.PageSpec, 20)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Bind(ctx, ids[2], "f64.sum", nil, ids[:2]); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{byte(i), 1, 2, 3})}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := inspector.New(inspector.Options{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ins.Close() })
	mux := http.NewServeMux()
	ins.Mount(mux)
	// /hold is another answer in flight: it counts other bytes, then
	// waits until release is closed.
	holding, release := make(chan error, 1), make(chan struct{})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		holding <- server.HoldAnswer(r.Context(), "hold", other)
		<-release
	})
	// /panic counts bytes, then panics, as a handler that fails may:
	// LimitRequests gives them back as the panic unwinds.
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		if err := server.HoldAnswer(r.Context(), "panic", 100); err == nil {
			panic(http.ErrAbortHandler)
		}
	})
	limited := server.LimitRequests(mux, 0, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	server.SetAnswerByteBounds(limited, bound, 0)
	ts := httptest.NewServer(limited)
	t.Cleanup(ts.Close)
	// Before ts.Close (cleanups run last first), which waits for /hold.
	var once sync.Once
	let := func() { once.Do(func() { close(release) }) }
	t.Cleanup(let)
	c := inspectorv1connect.NewInspectorServiceClient(ts.Client(), ts.URL)
	held := func() int64 {
		n, _ := server.AnswerBytesHeld(limited)
		return n
	}

	calls := []struct {
		what string
		call func() error
	}{
		{"ListPages", func() error {
			_, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Limit: 20}))
			return err
		}},
		{"GetPage", func() error {
			_, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(ids[2]), Recent: 4}))
			return err
		}},
		{"Provenance", func() error {
			_, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(ids[2]), Length: 4, Depth: 4}))
			return err
		}},
		{"Graph", func() error {
			_, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: uint64(ids[2]), Depth: 2}))
			return err
		}},
	}

	done := make(chan error, 1)
	go func() {
		res, err := ts.Client().Get(ts.URL + "/hold")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			err = res.Body.Close()
		}
		done <- err
	}()
	if err := recv(t, holding, "hold of the other answer"); err != nil {
		t.Fatalf("the other answer's hold of %d bytes: %v", other, err)
	}
	if n := held(); n != other {
		t.Fatalf("with the other answer in flight, %d bytes held, want %d", n, other)
	}
	for _, tc := range calls {
		err := tc.call()
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("%s beside an answer holding %d of the %d bytes answers may hold: %v, want resource_exhausted", tc.what, other, bound, err)
		}
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Meta().Get(server.BusyKey) != server.AnswerBytesFlag {
			t.Errorf("%s refused: want Mmsb-Busy %q: %v", tc.what, server.AnswerBytesFlag, err)
		}
		// A refused answer counted nothing: only the other one is held.
		if n := held(); n != other {
			t.Fatalf("after %s was refused, %d bytes held, want the other answer's %d", tc.what, n, other)
		}
	}

	let()
	if err := recv(t, done, "end of the other answer"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return held() == 0 }, func() string {
		return "the other answer was sent, but its bytes are still held"
	})
	if res, err := ts.Client().Get(ts.URL + "/panic"); err == nil {
		_ = res.Body.Close()
	}
	waitUntil(t, func() bool { return held() == 0 }, func() string {
		return "a handler panicked, but the bytes it counted are still held"
	})
	for _, tc := range calls {
		if err := tc.call(); err != nil {
			t.Fatalf("%s alone: %v", tc.what, err)
		}
		// Given back once the answer is sent (after the client has it:
		// LimitRequests drops the hold when the handler has returned).
		waitUntil(t, func() bool { return held() == 0 }, func() string {
			return tc.what + " was answered, but its bytes are still held"
		})
	}
}
