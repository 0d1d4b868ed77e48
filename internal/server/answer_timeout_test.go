package server_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestUnreadUnaryAnswerReset: a client announcing an HTTP/2 window of 0
// that asks for a Read of 256 KiB never gets it, and its stream is reset
// once the answer timeout (here 1 s) has passed since the answer began,
// giving back the handler, the answer's memory and its place among the
// requests in flight; a Watch on the same connection, a stream, is not
// reset by it. Until 2026-12-07 such an answer was held until the
// client's connection closed.
func TestUnreadUnaryAnswerReset(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{AnswerTimeout: time.Second}})
	ctx := context.Background()
	const size = 256 << 10
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: size})
	if err != nil {
		t.Fatal(err)
	}
	z := dialZeroWindowH2(t, f.http.Listener.Addr().String())
	z.post(1, "/mmsb.v1.BusService/Read", "application/json", []byte(fmt.Sprintf(`{"items":[{"page":"%d","off":0,"length":%d}]}`, id, size)))
	// A Watch's first message, enveloped (flags 0, length).
	msg := []byte(`{}`)
	z.post(3, "/mmsb.v1.BusService/Watch", "application/connect+json", append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...))
	z.send(t)
	var readReset, watchUp bool
	waitUntil(t, func() bool {
		_, _, readReset = z.state(1)
		watchUp, _, _ = z.state(3)
		return readReset && watchUp
	}, func() string {
		return fmt.Sprintf("an unread Read answer over HTTP/2 (window 0): stream reset %v (want true), the Watch's headers %v (want true)", readReset, watchUp)
	})
	// Past the answer timeout again, the Watch is still open.
	time.Sleep(1500 * time.Millisecond)
	if _, _, reset := z.state(3); reset {
		t.Fatal("the Watch stream was reset: the answer timeout is for unary calls only")
	}
}

// TestAnswerTimeoutLiftedHTTP1: over HTTP/1.1 the answer timeout of a
// unary call does not stay on its connection: a Watch asked next on the
// same connection still delivers a change committed after that timeout
// has passed (the write deadline would have cut it). net/http lifts it
// after each answer; this guards that the answer timeout relies on it.
// (Until 2026-12-07 it looked for any change, and the page's creation,
// which the watch delivers at once from the log, passed it with the
// deadline kept: with net/http's lifting removed it passed.)
func TestAnswerTimeoutLiftedHTTP1(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{AnswerTimeout: 500 * time.Millisecond}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure bound, not a timing assertion
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "POST /mmsb.v1.BusService/Stats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("Stats over HTTP/1.1: %s (closes %v); want 200 on a connection kept open", resp.Status, resp.Close)
	}
	msg := []byte(`{}`)
	env := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	if _, err := fmt.Fprintf(c, "POST /mmsb.v1.BusService/Watch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/connect+json\r\nContent-Length: %d\r\n\r\n%s", len(env), env); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (Its body is not closed: that would read the stream to its end;
	// closing c ends it.)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Watch over HTTP/1.1: %s", resp.Status)
	}
	// Past the Stats answer's timeout, then a change.
	time.Sleep(time.Second)
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(resp.Body, hdr); err != nil {
			t.Fatalf("the Watch after a unary call on the same HTTP/1.1 connection ended before the change: %v", err)
		}
		m := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(resp.Body, m); err != nil {
			t.Fatalf("the Watch after a unary call on the same HTTP/1.1 connection ended before the change: %v", err)
		}
		if hdr[0]&0x2 != 0 {
			t.Fatalf("the Watch ended before the change: %s", m)
		}
		// The delta committed past the timeout, not the page's creation,
		// which a watch from the start of the log delivers at once.
		var got struct {
			Changes []struct {
				Kind string `json:"kind"`
			} `json:"changes"`
		}
		if err := json.Unmarshal(m, &got); err != nil {
			t.Fatalf("a Watch message %q: %v", m, err)
		}
		for _, ch := range got.Changes {
			if ch.Kind == "delta" {
				return
			}
		}
	}
}
