package server_test

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex
	reset := map[uint32]bool{}
	headers := map[uint32]bool{}
	go readH2(c, func(typ byte, stream uint32, _ []byte) {
		mu.Lock()
		defer mu.Unlock()
		switch typ {
		case 0x1:
			headers[stream] = true
		case 0x3: // RST_STREAM
			reset[stream] = true
		}
	})
	settings := make([]byte, 6)
	binary.BigEndian.PutUint16(settings, 0x4) // SETTINGS_INITIAL_WINDOW_SIZE
	binary.BigEndian.PutUint32(settings[2:], 0)
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, h2Frame(0x4, 0, 0, settings)...)
	get := func(stream uint32, path string) {
		var hb []byte
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", path}, {":authority", "127.0.0.1"}} {
			hb = append(hb, 0, byte(len(f[0])))
			hb = append(hb, f[0]...)
			hb = append(hb, byte(len(f[1])))
			hb = append(hb, f[1]...)
		}
		out = append(out, h2Frame(0x1, 0x4|0x1, stream, hb)...) // END_HEADERS, END_STREAM
	}
	get(1, "/metrics")
	get(3, "/stream")
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not a timing assertion
	for {
		mu.Lock()
		metricsReset, streamUp := reset[1], headers[3]
		mu.Unlock()
		if metricsReset && streamUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an unread /metrics answer over HTTP/2 (window 0): stream reset %v (want true), the tracked stream's headers %v (want true)", metricsReset, streamUp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Past the answer timeout again, the tracked stream is still open.
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if reset[3] {
		t.Fatal("the tracked stream was reset: the answer timeout is not for streams")
	}
}
