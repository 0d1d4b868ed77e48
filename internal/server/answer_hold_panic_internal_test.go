package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAnswerHoldDroppedOnPanic: a handler that panics after its answer
// counted bytes (holdAnswer) gives them back as LimitRequests unwinds
// (net/http recovers the panic; the bytes must not stay held for ever,
// refusing every later answer beside them), and its place among the
// requests in flight too. A handler that panics before holding anything,
// and one that holds twice, alike.
func TestAnswerHoldDroppedOnPanic(t *testing.T) {
	for _, holds := range []int{0, 1, 2} {
		h := LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for range holds {
				if err := holdAnswer(r.Context(), "Read", 1000); err != nil {
					t.Errorf("holdAnswer of 1000 bytes under a bound of 1 MiB: %v", err)
				}
			}
			panic(http.ErrAbortHandler)
		}), 0, 4, slog.New(slog.NewTextHandler(io.Discard, nil))).(*requestLimit)
		h.countLoopback = true
		h.answers.max, h.answers.perClient = 1<<20, 1<<20
		for range 3 {
			func() {
				defer func() {
					if e, _ := recover().(error); !errors.Is(e, http.ErrAbortHandler) {
						t.Fatalf("handler panic: recovered %v, want http.ErrAbortHandler", e)
					}
				}()
				r := httptest.NewRequest(http.MethodPost, "/mmsb.v1.BusService/Read", nil)
				r.RemoteAddr = "127.0.0.1:1000"
				h.ServeHTTP(httptest.NewRecorder(), r)
			}()
		}
		h.mu.Lock()
		bytes, clients, inFlight := h.answers.total, len(h.answers.clients)+len(h.clients), h.n
		h.mu.Unlock()
		if bytes != 0 || clients != 0 || inFlight != 0 {
			t.Errorf("%d holds, 3 handlers panicked: %d answer bytes, %d clients and %d requests still held, want none",
				holds, bytes, clients, inFlight)
		}
	}
}
