package server_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestHTTPServerLogBounded: the HTTP server's own log lines, one per
// connection that fails (a TLS handshake, here an HTTP/2 protocol
// error), are bounded per minute: 40 connections sending junk write a
// few lines and count the rest. Each wrote a line of about 200 bytes, so
// a client without a credential could fill the log as fast as it could
// connect. The control: the first lines are written, the log is not
// silenced.
func TestHTTPServerLogBounded(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	hs := server.NewHTTPServer(http.NotFoundHandler(), 0, slog.New(slog.NewJSONHandler(logs, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	const conns = 40
	// At once: the server closes each about a second after its error.
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func() { errs <- sendJunk(ln.Addr().String()) }()
	}
	for i := 0; i < conns; i++ {
		if err := recv(t, errs, "connection's end"); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Count(logs.String(), "http2: server connection error")
	suppressed := server.ErrorLogSuppressed(hs)
	t.Logf("%d lines written, %d suppressed", lines, suppressed)
	if lines == 0 {
		t.Fatalf("control: no line of the HTTP server's log written:\n%s", logs.String())
	}
	// At most two windows' worth: the minute may turn during the test.
	if lines > 20 {
		t.Fatalf("%d lines written for %d connections; want at most 20", lines, conns)
	}
	if suppressed == 0 {
		t.Fatalf("no line counted as suppressed")
	}
}

// sendJunk opens a connection to addr, sends the HTTP/2 preface and then
// a DATA frame on stream 0 (a protocol error the server logs before it
// closes the connection), and waits for the close.
func sendJunk(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"+strings.Repeat("\x00", 9)); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the server did not close a connection in 10 s")
	}
	return nil
}
