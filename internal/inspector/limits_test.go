package inspector_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// gzipPadded is a gzip stream of msg with pad spaces before its last byte
// (JSON that inflates to len(msg)+pad bytes).
func gzipPadded(msg string, pad int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write([]byte(msg[:len(msg)-1]))
	spaces := bytes.Repeat([]byte(" "), 1<<16)
	for pad > 0 {
		k := min(pad, len(spaces))
		_, _ = zw.Write(spaces[:k])
		pad -= k
	}
	_, _ = zw.Write([]byte(msg[len(msg)-1:]))
	_ = zw.Close()
	return buf.Bytes()
}

// TestGzipBombRequestRefused: a gzip request that inflates past the read
// limit is refused with resource_exhausted by a decompressor that stops at
// the limit ("decompression stopped"; server.BoundedGzip): the bus
// service's, under the server's --max-request-bytes (server.Mux), and the
// inspector's, with its own bound or with the server's read limit passed
// as a handler option, both mounted on one mux as `mmsb serve` mounts
// them; an uncompressed request past the inspector's bound is refused too,
// and requests within the limits are served. Connect's default gzip
// inflates a whole message to measure it: before 2026-12-06 a 2 MiB
// request to the server inflating to 2 GiB took 7 s of its CPU before it
// was refused, and an inspector given no handler options had no read
// limit at all. (TestGzipBombStopsAtLimit, in internal/server, counts the
// bytes the decompressor inflates.)
func TestGzipBombRequestRefused(t *testing.T) {
	bus := memBus(t)
	const limit = 1 << 20
	_, _, own := serveInspector(t, inspector.Options{Bus: bus, MaxRequestBytes: limit})
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	ins, err := inspector.New(inspector.Options{Bus: bus, HandlerOptions: []connect.HandlerOption{connect.WithReadMaxBytes(limit)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ins.Close() })
	mux := srv.Mux(server.HTTPOptions{MaxRequestBytes: limit})
	ins.Mount(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	served := ts.URL
	const overview = "/mmsb.inspector.v1.InspectorService/Overview"
	const stats = "/mmsb.v1.BusService/Stats"
	plain := append(append([]byte("{"), bytes.Repeat([]byte(" "), 2<<20)...), '}')
	cases := []struct {
		name   string
		url    string
		body   []byte
		gzip   bool
		status int
		says   string
	}{
		{"bus service: inflates to 64 MiB", served + stats, gzipPadded(`{}`, 64<<20), true, http.StatusTooManyRequests, "decompression stopped"},
		{"inspector, own bound: inflates to 64 MiB", own + overview, gzipPadded(`{}`, 64<<20), true, http.StatusTooManyRequests, "decompression stopped"},
		{"inspector, server's read limit: inflates to 64 MiB", served + overview, gzipPadded(`{}`, 64<<20), true, http.StatusTooManyRequests, "decompression stopped"},
		{"inspector, own bound: 2 MiB uncompressed", own + overview, plain, false, http.StatusTooManyRequests, "more than inspector Options.MaxRequestBytes 1048576"},
		{"control: bus service, compressed within the limit", served + stats, gzipPadded(`{}`, 1<<10), true, http.StatusOK, `"syncMode"`},
		{"control: inspector, compressed within its bound", own + overview, gzipPadded(`{}`, 1<<10), true, http.StatusOK, `"syncMode"`},
		{"control: inspector, server's read limit, within it", served + overview, gzipPadded(`{}`, 1<<10), true, http.StatusOK, `"syncMode"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if c.gzip {
				req.Header.Set("Content-Encoding", "gzip")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.says) {
				t.Fatalf("status %d %.300s; want %d with %q", resp.StatusCode, b, c.status, c.says)
			}
		})
	}
}

// TestStreamsPastTheCapRefused: with Options.MaxStreams open (Changes and
// Events streams, known open through the inspector's hooks, not a clock),
// the next Changes or Events stream is refused with resource_exhausted
// naming the bound, the open ones go on, and once one ends a new one
// opens. Before, every stream was accepted: a client opening streams in a
// loop cost the server a goroutine, a poll of the bus and a connection
// each, without bound.
func TestStreamsPastTheCapRefused(t *testing.T) {
	bus := memBus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ins, c, _ := serveInspector(t, inspector.Options{Bus: bus, MaxStreams: 3, PollInterval: 5 * time.Millisecond})
	opened, closed := make(chan struct{}, 16), make(chan struct{}, 16)
	inspector.SetStreamHooks(ins, func() { opened <- struct{}{} }, func() { closed <- struct{}{} })
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no stream %s within 30 s", what)
		}
	}

	// Two Changes streams and one Events stream.
	firstCtx, endFirst := context.WithCancel(ctx)
	defer endFirst()
	first, err := c.Changes(firstCtx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []receiver{first, second} {
		if !s.Receive() {
			t.Fatalf("Changes sent no first message: %v", s.Err())
		}
	}
	go func() {
		// Events sends its headers with its first event: the call
		// returns when one comes or the stream ends (at the test's end).
		if s, err := c.Events(ctx, connect.NewRequest(&inspectorv1.EventsRequest{})); err == nil {
			_ = streamEnd(s)
		}
	}()
	for range 3 {
		wait(opened, "opened")
	}

	for _, method := range []string{"Changes", "Events"} {
		t.Run("refused: "+method, func(t *testing.T) {
			// Accepted, the stream would take a token (the opened hook)
			// and run until the test's end; refused, it ends at once.
			refused := make(chan error, 1)
			sctx, end := context.WithCancel(ctx)
			defer end()
			go func() {
				var s receiver
				var err error
				if method == "Changes" {
					s, err = c.Changes(sctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
				} else {
					s, err = c.Events(sctx, connect.NewRequest(&inspectorv1.EventsRequest{}))
				}
				if err == nil {
					err = streamEnd(s)
				}
				refused <- err
			}()
			var err error
			select {
			case <-opened:
				t.Fatalf("a %s stream past the cap of 3 was opened", method)
			case err = <-refused:
			}
			if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "3 Changes and Events streams are open") ||
				!strings.Contains(err.Error(), "MaxStreams") || !strings.Contains(err.Error(), method) {
				t.Fatalf("a stream past the cap of 3: %v; want resource_exhausted naming %s and the cap", err, method)
			}
		})
	}

	// The open streams go on: a commit reaches the second.
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}}); err != nil {
		t.Fatal(err)
	}
	if !second.Receive() || second.Msg().GetCommittedLsn() != uint64(bus.LastLSN()) {
		t.Fatalf("the open stream after the refusals: %v %v", second.Msg(), second.Err())
	}

	// One ends; a new one opens.
	endFirst()
	wait(closed, "closed")
	again, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Receive() {
		t.Fatalf("a stream after one ended: %v", again.Err())
	}
}

// TestNewRefusesNegativeBounds: a negative MaxStreams or MaxRequestBytes
// is refused with mmsb.ErrInvalidOption naming the field; 0 (the
// defaults) and positive values are taken.
func TestNewRefusesNegativeBounds(t *testing.T) {
	bus := memBus(t)
	for _, c := range []struct {
		name  string
		o     inspector.Options
		field string // "" when accepted
	}{
		{"MaxStreams -1", inspector.Options{Bus: bus, MaxStreams: -1}, "Options.MaxStreams is -1"},
		{"MaxRequestBytes -1", inspector.Options{Bus: bus, MaxRequestBytes: -1}, "Options.MaxRequestBytes is -1"},
		{"control: defaults", inspector.Options{Bus: bus}, ""},
		{"control: set", inspector.Options{Bus: bus, MaxStreams: 1, MaxRequestBytes: 1}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, err := inspector.New(c.o)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				_ = in.Close()
				return
			}
			if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("New: %v; want ErrInvalidOption naming %q", err, c.field)
			}
		})
	}
}
