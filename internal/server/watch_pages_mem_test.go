package server_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWatchPageListMemory: a watch on a list of pages costs the server
// memory in proportion to its request, for as long as it stays open: a
// request of 2^20 page IDs (3 MiB of varints) must not hold several
// times that.
func TestWatchPageListMemory(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ProgressInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	req := &mmsbv1.WatchRequest{FromLsn: 1}
	for i := range uint64(1 << 20) {
		req.Pages = append(req.Pages, 1<<14+2*i) // 3-byte varints, no two adjacent
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	req = nil
	frame := make([]byte, 5, 5+len(body))
	binary.BigEndian.PutUint32(frame[1:5], uint32(len(body)))
	frame = append(frame, body...)
	addr := strings.TrimPrefix(hs.URL, "http://")
	head := fmt.Sprintf("POST /mmsb.v1.BusService/Watch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/connect+proto\r\nContent-Length: %d\r\n\r\n", addr, len(frame))

	heapInUse := func() uint64 {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	heap0 := heapInUse()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	size := len(frame)
	frame, body = nil, nil //nolint:ineffassign // dropped, so that the heap measured below does not hold them
	// The first progress message says the watch is set up.
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Watchers() == 1 })
	grown := int64(heapInUse()) - int64(heap0)
	t.Logf("a watch request of %d bytes holds %d bytes of heap", size, grown)
	if limit := int64(4 * size); grown > limit {
		t.Fatalf("a watch request of %d bytes holds %d bytes of heap while open (more than %d)", size, grown, limit)
	}
}
