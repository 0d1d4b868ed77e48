package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
)

// resetListener accepts connections, reads the start of the request and
// resets the connection unanswered, as a server does that closes a
// connection while the client writes (a restart, --max-conns closing it).
func resetListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			buf := make([]byte, 16)
			_, _ = conn.Read(buf)
			conn.(*net.TCPConn).SetLinger(0) // close with a reset
			conn.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

// A connection the server resets is a lost connection (Unavailable, and
// idempotent calls retry it), not the caller's cancellation: connect-go
// gave it code Canceled, and Stats was not retried.
func TestLostConnectionUnavailable(t *testing.T) {
	addr, accepted := resetListener(t)
	c, err := New("http://"+addr, WithRetries(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	_, err = c.Stats(ctx)
	if code := connect.CodeOf(err); code != connect.CodeUnavailable {
		t.Fatalf("Stats on a reset connection: code %v, want unavailable: %v", code, err)
	}
	if errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "connection to the server was lost") {
		t.Fatalf("Stats on a reset connection: %v, want it to name the lost connection", err)
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("Stats made %d connections, want 3 (two retries)", n)
	}

	accepted.Store(0)
	err = c.QueryLog(ctx, mmsb.LogQuery{}, func(*mmsb.LoggedOp) bool { return true })
	if code := connect.CodeOf(err); code != connect.CodeUnavailable {
		t.Fatalf("QueryLog on a reset connection: code %v, want unavailable: %v", code, err)
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("QueryLog made %d connections, want 3 (two retries)", n)
	}

	accepted.Store(0)
	_, err = c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	if code := connect.CodeOf(err); code != connect.CodeUnavailable {
		t.Fatalf("CreatePages on a reset connection: code %v, want unavailable: %v", code, err)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("CreatePages made %d connections, want 1 (it changes state: no retry)", n)
	}

	// The caller's cancellation stays Canceled.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Stats(cctx); connect.CodeOf(err) != connect.CodeCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stats with a cancelled context: %v, want canceled", err)
	}
}
