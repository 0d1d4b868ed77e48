package inspector_test

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestInspectorUnreadAnswerReset: served as mmsb serve serves it (on the
// server's HTTP server, beside the service the server's own answer
// timeout covers), the inspector's answers get that timeout too. A
// client announcing an HTTP/2 window of 0 that asks for an Overview (a
// unary call), for the UI's page and for / (its redirect to the UI)
// never gets them, and their streams are reset once the answer timeout (here 1 s) has passed since the
// answer began, giving back their handlers and their places among the
// requests in flight; a Changes stream on the same connection is not
// reset by it. Until 2026-12-07 such answers were held until the
// client's connection closed.
func TestInspectorUnreadAnswerReset(t *testing.T) {
	_, mux := mountInspector(t, inspector.Options{Bus: memBus(t), AnswerTimeout: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(mux, 0, nil)
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
	go answerDeadlineReadH2(c, func(typ byte, stream uint32) {
		mu.Lock()
		defer mu.Unlock()
		switch typ {
		case 0x1: // HEADERS
			headers[stream] = true
		case 0x3: // RST_STREAM
			reset[stream] = true
		}
	})
	settings := make([]byte, 6)
	binary.BigEndian.PutUint16(settings, 0x4) // SETTINGS_INITIAL_WINDOW_SIZE
	binary.BigEndian.PutUint32(settings[2:], 0)
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, answerDeadlineH2Frame(0x4, 0, 0, settings)...)
	// Each request's header block is literal fields without indexing.
	request := func(stream uint32, method, path, contentType string, body []byte) {
		var hb []byte
		fields := [][2]string{{":method", method}, {":scheme", "http"}, {":path", path}, {":authority", "127.0.0.1"}}
		if contentType != "" {
			fields = append(fields, [2]string{"content-type", contentType})
		}
		for _, f := range fields {
			hb = append(hb, 0, byte(len(f[0])))
			hb = append(hb, f[0]...)
			hb = append(hb, byte(len(f[1])))
			hb = append(hb, f[1]...)
		}
		if body == nil {
			out = append(out, answerDeadlineH2Frame(0x1, 0x4|0x1, stream, hb)...) // END_HEADERS, END_STREAM
			return
		}
		out = append(out, answerDeadlineH2Frame(0x1, 0x4, stream, hb)...)
		out = append(out, answerDeadlineH2Frame(0x0, 0x1, stream, body)...)
	}
	const service = "/mmsb.inspector.v1.InspectorService/"
	request(1, "POST", service+"Overview", "application/json", []byte(`{}`))
	// A Changes stream's request, enveloped (flags 0, length).
	request(3, "POST", service+"Changes", "application/connect+json", []byte{0, 0, 0, 0, 2, '{', '}'})
	request(5, "GET", inspector.UIPath, "", nil)
	request(7, "GET", "/", "", nil) // the redirect to the UI
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not a timing assertion
	for {
		mu.Lock()
		overviewReset, uiReset, redirectReset, changesUp := reset[1], reset[5], reset[7], headers[3]
		mu.Unlock()
		if overviewReset && uiReset && redirectReset && changesUp {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unread inspector answers over HTTP/2 (window 0): Overview's stream reset %v, the UI page's %v, the redirect's %v (want all true); the Changes stream's headers %v (want true)",
				overviewReset, uiReset, redirectReset, changesUp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Past the answer timeout again, the Changes stream is still open.
	time.Sleep(1500 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if reset[3] {
		t.Fatal("the Changes stream was reset: the answer timeout is for unary calls and files only")
	}
}

// answerDeadlineH2Frame is an HTTP/2 frame.
func answerDeadlineH2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// answerDeadlineReadH2 reads the server's frames from c until it fails,
// acknowledging its SETTINGS and PINGs (it never sends a WINDOW_UPDATE),
// and passes each frame's type and stream to f.
func answerDeadlineReadH2(c net.Conn, f func(typ byte, stream uint32)) {
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		p := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c, p); err != nil {
			return
		}
		switch {
		case hdr[3] == 0x4 && hdr[4]&1 == 0:
			_, _ = c.Write(answerDeadlineH2Frame(0x4, 1, 0, nil))
		case hdr[3] == 0x6 && hdr[4]&1 == 0:
			_, _ = c.Write(answerDeadlineH2Frame(0x6, 1, 0, p))
		}
		f(hdr[3], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff)
	}
}
