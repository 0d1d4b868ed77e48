package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestEveryAnswerTimed: the HTTP server of NewHTTPServer bounds the
// answer of every handler, not only the service's (mmsb serve mounts
// /metrics beside it): a client announcing an HTTP/2 window of 0 that
// asks for a /metrics-like answer of 64 KiB never gets it, and its
// stream is reset once the answer timeout (here 1 s) has passed since
// the answer began, giving back the handler and its place among the
// requests in flight (--max-requests); a stream that StreamCut tracks,
// on the same connection, is not reset by it. Until 2026-12-07 only
// the service's unary answers had the timeout, and such an answer was
// held until the client's connection closed.
func TestEveryAnswerTimed(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cut server.StreamCut
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("m", 64<<10))
	})
	mux.Handle("GET /stream", cut.Track(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.WriteHeader(http.StatusOK)
		_ = rc.Flush()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(w, "x"); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}), "/stream"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServerAnswerTimeout(server.LimitRequests(mux, 0, 0, quiet), time.Second)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	z := dialZeroWindowH2(t, ln.Addr().String())
	z.get(1, "/metrics")
	z.get(3, "/stream")
	z.send(t)
	var metricsReset, streamUp bool
	waitUntil(t, func() bool {
		_, _, metricsReset = z.state(1)
		streamUp, _, _ = z.state(3)
		return metricsReset && streamUp
	}, func() string {
		return fmt.Sprintf("an unread /metrics answer over HTTP/2 (window 0): stream reset %v (want true), the tracked stream's headers %v (want true)", metricsReset, streamUp)
	})
	// Past the answer timeout again, the tracked stream is still open.
	time.Sleep(1500 * time.Millisecond)
	if _, _, reset := z.state(3); reset {
		t.Fatal("the tracked stream was reset: the answer timeout is not for streams")
	}
}
