package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// memServer is the setup of the watch memory tests (watch_*_mem_test.go):
// a bus (in memory when dir is ""), a server on it that logs nothing and
// sends progress once an hour (so idle watches stay idle), with watch
// queues of queue steps (0: the default), and a plain HTTP/1.1 test server,
// whose address raw connections dial. All are closed when the test ends.
type memServer struct {
	bus  *mmsb.Bus
	srv  *server.Server
	http *httptest.Server
	addr string // host:port of http
}

func newMemServer(t testing.TB, dir string, queue int) *memServer {
	t.Helper()
	var opts *mmsb.Options
	if dir != "" {
		opts = &mmsb.Options{}
	}
	bus, err := mmsb.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WatchQueue: queue, ProgressInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) }) // before hs.Close: it ends the watches
	return &memServer{bus: bus, srv: srv, http: hs, addr: strings.TrimPrefix(hs.URL, "http://")}
}

// rawWatchRequest is the whole HTTP/1.1 request of a Watch over the
// Connect streaming protocol (one frame: flag byte, big-endian length,
// the message), for raw connections that cost the test process little
// more than their socket. contentType is application/connect+json or
// application/connect+proto, as msg is encoded.
func (m *memServer) rawWatchRequest(contentType string, msg []byte) []byte {
	req := fmt.Appendf(nil, "POST /mmsb.v1.BusService/Watch HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		m.addr, contentType, 5+len(msg))
	req = append(req, 0)
	req = binary.BigEndian.AppendUint32(req, uint32(len(msg)))
	return append(req, msg...)
}

// memInUse returns the heap and goroutine stack memory in use, after
// garbage collections that leave only what is reachable.
func memInUse() (heap, stack uint64) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}
