package server_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestSlowRequestBodyCut: a client that sends a request's headers and
// then holds back its body does not hold its connection (HTTP/1.1) or
// its stream (HTTP/2) past the body's time bound (BodyReadTimeout,
// shortened here): whether the call is refused without its body being
// read (no credential: net/http still reads up to 256 KiB of the body
// before it answers), is a path that takes no body (/healthz), or reads
// its body (a Commit with a write token). Until 2026-12-06 each of them
// waited for the body without end, unanswered, so that a client without
// a credential could hold --max-conns connections by sending 10 bytes
// on each. The controls: watch streams, over HTTP/1.1 and HTTP/2, run on
// well past the bound, their requests' bodies having arrived.
func TestSlowRequestBodyCut(t *testing.T) {
	const bound = 200 * time.Millisecond
	toks := []server.Token{{Role: server.RoleWrite, Value: writeTok}}
	f := newFixture(t, fixOpts{})
	hs := server.NewHTTPServerBodyTimeout(f.srv.Mux(server.HTTPOptions{Auth: server.NewAuth(toks)}), bound)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()

	// HTTP/1.1: the headers and 10 bytes of a body of 100,000; the
	// server must answer and close the connection.
	for _, c := range []struct{ name, path, token string }{
		{"refused RPC, no token", "/mmsb.v1.BusService/Commit", ""},
		{"path without a body", "/healthz", ""},
		{"RPC reading its body", "/mmsb.v1.BusService/Commit", writeTok},
	} {
		t.Run("HTTP/1.1 "+c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			req := "POST " + c.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
			if c.token != "" {
				req += "Authorization: Bearer " + c.token + "\r\n"
			}
			if _, err := io.WriteString(conn, req+"\r\n"+`{"deltas":`); err != nil {
				t.Fatal(err)
			}
			// A bounded wait for the server's close: several seconds,
			// the machine may be loaded.
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open 10 s after the body's bound of %v; read %q", bound, got)
			}
		})
	}

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	h1 := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(h2c.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)

	t.Run("HTTP/2 RPC reading its body", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = io.WriteString(pw, `{"deltas":`) }() // and no more
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Commit", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+writeTok)
		done := make(chan error, 1)
		go func() {
			resp, err := h2c.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			done <- err
		}()
		select {
		case <-done: // answered (an error) or reset: the stream ended
		case <-time.After(10 * time.Second):
			t.Fatalf("stream still open 10 s after the body's bound of %v", bound)
		}
	})

	for _, proto := range []struct {
		name string
		hc   *http.Client
	}{{"HTTP/1.1", h1}, {"HTTP/2", h2c}} {
		t.Run("control: watch over "+proto.name+" outlives the bound", func(t *testing.T) {
			body := `{"progressMs":20}`
			env := append([]byte{0, 0, 0, 0, 0}, body...)
			binary.BigEndian.PutUint32(env[1:5], uint32(len(body)))
			req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Watch", strings.NewReader(string(env)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/connect+json")
			req.Header.Set("Authorization", "Bearer "+writeTok)
			start := time.Now()
			resp, err := proto.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("watch: HTTP %d", resp.StatusCode)
			}
			br := bufio.NewReader(resp.Body)
			for n := 0; time.Since(start) < 5*bound; n++ {
				flags, msg, err := readEnvelope(br)
				if err != nil {
					t.Fatalf("watch ended after %v and %d messages: %v", time.Since(start), n, err)
				}
				if flags&2 != 0 {
					t.Fatalf("watch ended after %v and %d messages: %s", time.Since(start), n, msg)
				}
			}
		})
	}
}

// readEnvelope reads one Connect streaming envelope.
func readEnvelope(r io.Reader) (flags byte, msg []byte, err error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("envelope of %d bytes", n)
	}
	msg = make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return 0, nil, err
	}
	return h[0], msg, nil
}
