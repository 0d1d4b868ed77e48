package server_test

import (
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"
)

// zeroWindowH2 is a raw HTTP/2 client connection that announces a flow
// control window of 0 and never opens it (readH2 sends no WINDOW_UPDATE):
// the server can send it headers but no answer's body, as a client that
// reads none of its answers. It records which streams got their headers
// (and whether their :status was 200) and which were reset.
type zeroWindowH2 struct {
	c   net.Conn
	out []byte // frames queued by get and post, written by send

	mu      sync.Mutex
	headers map[uint32]bool // stream -> its :status was 200
	reset   map[uint32]bool
}

// dialZeroWindowH2 connects to addr and queues the client's preface and
// its SETTINGS (an initial window of 0); the connection is closed when
// the test ends.
func dialZeroWindowH2(t *testing.T, addr string) *zeroWindowH2 {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	z := &zeroWindowH2{c: c, headers: map[uint32]bool{}, reset: map[uint32]bool{}}
	go readH2(c, func(typ byte, stream uint32, p []byte) {
		z.mu.Lock()
		defer z.mu.Unlock()
		switch typ {
		case 0x1: // HEADERS
			// HPACK: net/http sends :status first, and 200 as the static
			// table's entry 8 (0x88); any other status is a literal or a
			// dynamic table entry.
			z.headers[stream] = len(p) > 0 && p[0] == 0x88
		case 0x3: // RST_STREAM
			z.reset[stream] = true
		}
	})
	settings := make([]byte, 6)
	binary.BigEndian.PutUint16(settings, 0x4) // SETTINGS_INITIAL_WINDOW_SIZE
	binary.BigEndian.PutUint32(settings[2:], 0)
	z.out = append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), h2Frame(0x4, 0, 0, settings)...)
	return z
}

// headerBlock encodes fields as HPACK literals without indexing.
func headerBlock(fields [][2]string) []byte {
	var hb []byte
	for _, f := range fields {
		hb = append(hb, 0, byte(len(f[0])))
		hb = append(hb, f[0]...)
		hb = append(hb, byte(len(f[1])))
		hb = append(hb, f[1]...)
	}
	return hb
}

// get queues a GET of path on stream (odd, increasing).
func (z *zeroWindowH2) get(stream uint32, path string) {
	hb := headerBlock([][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", path}, {":authority", "127.0.0.1"}})
	z.out = append(z.out, h2Frame(0x1, 0x4|0x1, stream, hb)...) // END_HEADERS, END_STREAM
}

// post queues a POST of body to path with contentType on stream.
func (z *zeroWindowH2) post(stream uint32, path, contentType string, body []byte) {
	hb := headerBlock([][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", path},
		{":authority", "127.0.0.1"}, {"content-type", contentType}})
	z.out = append(z.out, h2Frame(0x1, 0x4, stream, hb)...)   // END_HEADERS
	z.out = append(z.out, h2Frame(0x0, 0x1, stream, body)...) // END_STREAM
}

// send writes the queued frames.
func (z *zeroWindowH2) send(t *testing.T) {
	t.Helper()
	if _, err := z.c.Write(z.out); err != nil {
		t.Fatal(err)
	}
	z.out = nil
}

// state says whether stream got its headers, whether their status was
// 200, and whether it was reset.
func (z *zeroWindowH2) state(stream uint32) (headers, ok200, reset bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	ok200, headers = z.headers[stream]
	return headers, ok200, z.reset[stream]
}

// waitUntil polls cond until it holds, failing the test with what() if
// it does not within 30 s (a failure bound, not a timing assertion).
func waitUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
