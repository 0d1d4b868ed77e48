package server_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestLimitConns: a listener bounded to two connections closes a third at
// once (the client reads EOF or a reset, never an answer), logs the
// refusal once however many follow, and accepts again once one of the two
// closed. Before 2026-12-06 serve had no bound: every connection a client
// opened (no credential needed) cost a descriptor and a goroutine until the
// process ran out of descriptors.
func TestLimitConns(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ln := server.LimitConns(raw, 2, 0, slog.New(slog.NewTextHandler(&logs, nil)))
	defer ln.Close()
	refused := make(chan struct{}, 8)
	server.SetConnRefusedHook(ln, func() { refused <- struct{}{} })
	type accepted struct {
		c   net.Conn
		err error
	}
	acc := make(chan accepted, 8)
	go func() {
		for {
			c, err := ln.Accept()
			acc <- accepted{c, err}
			if err != nil {
				return
			}
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	next := func() net.Conn {
		t.Helper()
		select {
		case a := <-acc:
			if a.err != nil {
				t.Fatal(a.err)
			}
			return a.c
		case <-time.After(30 * time.Second):
			t.Fatal("no connection accepted")
			return nil
		}
	}
	wantRefused := func() {
		t.Helper()
		c := dial()
		select {
		case <-refused:
		case a := <-acc:
			t.Fatalf("a connection beyond the bound of 2 was accepted (%v)", a.c.RemoteAddr())
		case <-time.After(30 * time.Second):
			t.Fatal("a connection beyond the bound was neither refused nor accepted")
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure bound, not a timing assertion
		if n, err := c.Read(make([]byte, 1)); err == nil || n > 0 || errorsIsTimeout(err) {
			t.Fatalf("a refused connection read %d bytes, err %v; want it closed", n, err)
		}
	}
	first := next2(dial, next)
	_ = next2(dial, next)
	wantRefused()
	wantRefused()
	if n := strings.Count(logs.String(), "refusing connections"); n != 1 {
		t.Fatalf("two refusals logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "max_conns=2") {
		t.Fatalf("the refusal does not name the bound:\n%s", logs.String())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	_ = first.Close() // a second Close must not give its slot back again (the last refusal below)
	_ = next2(dial, next)
	wantRefused()
}

// next2 dials a connection and returns the listener's side of it.
func next2(dial func() net.Conn, next func() net.Conn) net.Conn {
	dial()
	return next()
}

func errorsIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestLimitConnsPerClient: a listener bounded to 2 connections per client
// (and 10 in all) closes a third from 127.0.0.1 at once while it accepts
// one from 127.0.0.2, logs the refusal naming the bound once however
// many follow, and accepts 127.0.0.1 again once one of its two closed.
// Until 2026-12-06 only --max-conns bounded connections, and one client
// could hold all of them, locking every other client out.
func TestLimitConnsPerClient(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ln := server.LimitConns(raw, 10, 2, slog.New(slog.NewTextHandler(&logs, nil)))
	defer ln.Close()
	refused := make(chan struct{}, 8)
	server.SetConnRefusedHook(ln, func() { refused <- struct{}{} })
	server.CountLoopbackClients(ln) // 127.0.0.1 and 127.0.0.2 are two clients here
	acc := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			acc <- c
		}
	}()
	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			if from != "127.0.0.1" {
				t.Skipf("cannot connect from %s (a system without all of 127.0.0.0/8 on loopback): %v", from, err)
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	accepted := func(from string) net.Conn {
		t.Helper()
		dial(from)
		select {
		case c := <-acc:
			if got := server.ClientKey(c.RemoteAddr().String()); got != from {
				t.Fatalf("accepted a connection of %s, want one of %s", got, from)
			}
			return c
		case <-refused:
			t.Fatalf("a connection from %s was refused; want it accepted", from)
		case <-time.After(30 * time.Second):
			t.Fatalf("a connection from %s was neither accepted nor refused", from)
		}
		return nil
	}
	wantRefused := func(from string) {
		t.Helper()
		c := dial(from)
		select {
		case <-refused:
		case a := <-acc:
			t.Fatalf("a third connection from %s was accepted (%v); want it refused", from, a.RemoteAddr())
		case <-time.After(30 * time.Second):
			t.Fatalf("a third connection from %s was neither refused nor accepted", from)
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure bound, not a timing assertion
		if n, err := c.Read(make([]byte, 1)); err == nil || n > 0 || errorsIsTimeout(err) {
			t.Fatalf("a refused connection read %d bytes, err %v; want it closed", n, err)
		}
	}
	first := accepted("127.0.0.1")
	accepted("127.0.0.1")
	wantRefused("127.0.0.1")
	accepted("127.0.0.2") // another client is not locked out
	wantRefused("127.0.0.1")
	if n := strings.Count(logs.String(), "refusing a connection"); n != 1 {
		t.Fatalf("two refusals logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "max_conns_per_client=2") || !strings.Contains(logs.String(), "client=127.0.0.1") {
		t.Fatalf("the refusal does not name the bound and the client:\n%s", logs.String())
	}
	_ = first.Close()
	_ = first.Close() // a second Close must not give its slot back again
	accepted("127.0.0.1")
	wantRefused("127.0.0.1")
}

// syncBuffer is a bytes.Buffer safe for a logger's goroutine and the
// test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
