package server_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestClientKey: an IPv4 address is one client, an IPv6 address counts
// for its /64 (a host picks any address of its /64), an IPv4-mapped one
// for its IPv4 address.
func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.1:80", "192.0.2.1"},
		{"192.0.2.1:81", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:5", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:9", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:9", "2001:db8:1:3::/64"},
		{"[fe80::1%eth0]:5", "fe80::/64"},
		{"2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"@", "@"},
	} {
		if got := server.ClientKey(tc.addr); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestLimitRequests: with at most 3 requests in flight and 2 per
// client, a third request of one address is refused with 503 and a
// Connect resource_exhausted error naming --max-requests-per-client and
// 2, while another address is served; the fourth request is refused
// naming --max-requests and 3; once a request ends, its client is served
// again (the control: the slot is given back). The handler is never
// called for a refused request. Until 2026-12-06 nothing bounded the
// requests in flight but --max-conns x --max-streams (512,000 at the
// defaults), each holding its answer until its client read it.
func TestLimitRequests(t *testing.T) {
	// Each admitted request is held until its own channel is closed.
	release := map[string]chan struct{}{}
	for _, a := range []string{"192.0.2.1:1000", "192.0.2.1:1001", "[2001:db8::1]:1000", "192.0.2.1:1003"} {
		release[a] = make(chan struct{})
	}
	var entered atomic.Int64
	inside := make(chan struct{}, 8)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		inside <- struct{}{}
		<-release[r.RemoteAddr]
		_, _ = io.WriteString(w, "ok")
	}), 3, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	held := func(addr string) {
		t.Helper()
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/rpc", nil)
			r.RemoteAddr = addr
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
		select {
		case <-inside:
		case <-time.After(30 * time.Second):
			t.Fatalf("a request from %s was not admitted", addr)
		}
	}
	refused := func(addr, want string) {
		t.Helper()
		r := httptest.NewRequest("GET", "/rpc", nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); h.ServeHTTP(rec, r); close(done) }()
		select {
		case <-done:
		case <-inside:
			t.Fatalf("a request from %s beyond the bound reached the handler", addr)
		case <-time.After(30 * time.Second):
			t.Fatalf("a request from %s beyond the bound was not answered", addr)
		}
		var e struct{ Code, Message string }
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != http.StatusServiceUnavailable ||
			e.Code != "resource_exhausted" || !strings.Contains(e.Message, want) {
			t.Fatalf("request from %s beyond the bound: %d %q; want 503, resource_exhausted naming %q", addr, rec.Code, rec.Body.String(), want)
		}
	}
	held("192.0.2.1:1000")
	held("192.0.2.1:1001")
	refused("192.0.2.1:1002", "--max-requests-per-client 2")
	held("[2001:db8::1]:1000")
	refused("[2001:db8::2]:1000", "--max-requests 3")
	if n := entered.Load(); n != 3 {
		t.Fatalf("the handler ran %d times, want 3 (refused requests must not reach it)", n)
	}
	close(release["192.0.2.1:1000"]) // one of 192.0.2.1's two ends
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := httptest.NewRequest("GET", "/rpc", nil)
		r.RemoteAddr = "192.0.2.1:1003"
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(rec, r); close(done) }()
		select {
		case <-inside: // admitted again
			for _, a := range []string{"192.0.2.1:1001", "[2001:db8::1]:1000", "192.0.2.1:1003"} {
				close(release[a])
			}
			<-done
			wg.Wait()
			return
		case <-done:
			// Refused: the request released may not have given its
			// slot back yet.
			if time.Now().After(deadline) {
				t.Fatalf("a request ended, and its client is still refused: %d %s", rec.Code, rec.Body.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestUnreadAnswersBounded: an HTTP/2 client announcing a stream window
// of 0 (it reads no answer) asks for 6 answers of 64 KiB on one
// connection from a server bounded to 4 requests in flight: 4 are held
// (their handlers block writing), the 2 others get their 503 header at
// once and their stream reset within RefusalWriteGrace, since their body
// cannot be sent either, and the handler never runs for them. Without the
// bound (until 2026-12-06) all 6 were held, and --max-conns x
// --max-streams such answers could be (measured: 800 /metrics requests
// held 115 KB of the server's heap each).
func TestUnreadAnswersBounded(t *testing.T) { unreadAnswersBounded(t, 64<<10) }

// TestUnreadSmallAnswersBounded is TestUnreadAnswersBounded with answers
// of 100 bytes, which fit the HTTP/2 server's 4 KiB write buffer: their
// handlers return before a byte is sent, and the request bound counted
// them only that long. Until 2026-12-06 a client announcing a window of
// 0 held every such answer (a goroutine and its stream's buffers) until
// its connection closed, which an open stream keeps from idling: --max-conns
// x --max-streams of them, whatever --max-requests said (control: the
// handler ran 6 times with 4 allowed, no stream reset). LimitRequests now
// counts a request until its answer is sent.
func TestUnreadSmallAnswersBounded(t *testing.T) { unreadAnswersBounded(t, 100) }

func unreadAnswersBounded(t *testing.T, size int) {
	var entered atomic.Int64
	answer := bytes.Repeat([]byte("x"), size)
	h := server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered.Add(1)
		_, _ = w.Write(answer)
	}), 4, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := server.NewHTTPServer(h, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	z := dialZeroWindowH2(t, ln.Addr().String())
	for i := range 6 {
		z.get(uint32(2*i+1), "/a")
	}
	z.send(t)
	var nNot200, nreset int
	waitUntil(t, func() bool {
		nNot200, nreset = 0, 0
		for i := range 6 {
			if headers, ok200, reset := z.state(uint32(2*i + 1)); headers && !ok200 {
				nNot200++
				if reset {
					nreset++
				}
			}
		}
		return nNot200 == 2 && nreset == 2 && entered.Load() == 4
	}, func() string {
		return fmt.Sprintf("6 unread answers asked of a server bounded to 4: handler ran %d times, %d answered with a status other than 200, %d of them reset; want 4, 2, 2",
			entered.Load(), nNot200, nreset)
	})
	if n := entered.Load(); n != 4 {
		t.Fatalf("handler ran %d times, want 4", n)
	}
}

func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// readH2 reads the server's frames from c until it fails, acknowledging
// its SETTINGS and PINGs (it never sends a WINDOW_UPDATE), and passes
// each frame to f.
func readH2(c net.Conn, f func(typ byte, stream uint32, payload []byte)) {
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		p := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c, p); err != nil {
			return
		}
		stream := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		switch {
		case hdr[3] == 0x4 && hdr[4]&1 == 0:
			_, _ = c.Write(h2Frame(0x4, 1, 0, nil))
		case hdr[3] == 0x6 && hdr[4]&1 == 0:
			_, _ = c.Write(h2Frame(0x6, 1, 0, p))
		}
		f(hdr[3], stream, p)
	}
}

// TestLimitRequestsLoopbackNotPerClient: loopback addresses are not
// bounded per client (every client of this host has them, and `mmsb
// loadtest --watchers 100` opens 100 streams from 127.0.0.1): with 1 per
// client, three requests from 127.0.0.1 and ::1 are all admitted, and
// the server-wide bound still holds them (the fourth is refused naming
// --max-requests).
func TestLimitRequestsLoopbackNotPerClient(t *testing.T) {
	release := make(chan struct{})
	inside := make(chan struct{}, 8)
	h := server.LimitRequests(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		inside <- struct{}{}
		<-release
	}), 3, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	serve := func(addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		wg.Add(1)
		done := make(chan struct{})
		go func() { defer wg.Done(); h.ServeHTTP(rec, r); close(done) }()
		select {
		case <-inside:
			return nil
		case <-done:
			return rec
		case <-time.After(30 * time.Second):
			t.Fatalf("a request from %s was neither admitted nor refused", addr)
			return nil
		}
	}
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "[::1]:3"} {
		if rec := serve(a); rec != nil {
			t.Fatalf("request from %s refused with 1 per client: %d %s; loopback is not bounded per client", a, rec.Code, rec.Body.String())
		}
	}
	if rec := serve("127.0.0.1:4"); rec == nil || rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--max-requests 3") {
		t.Fatalf("a fourth request was not refused by --max-requests 3: %v", rec)
	}
}
