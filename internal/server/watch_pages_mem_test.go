package server_test

import (
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// TestWatchPageListMemory: a watch on a list of pages costs the server
// memory in proportion to its request, for as long as it stays open: a
// request of 2^20 page IDs (3 MiB of varints) must not hold several
// times that.
func TestWatchPageListMemory(t *testing.T) {
	m := newMemServer(t, "", 0)

	req := &mmsbv1.WatchRequest{FromLsn: 1}
	for i := range uint64(1 << 20) {
		req.Pages = append(req.Pages, 1<<14+2*i) // 3-byte varints, no two adjacent
	}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	req = nil
	size := 5 + len(body) // the request's frame
	raw := m.rawWatchRequest("application/connect+proto", body)
	body = nil //nolint:ineffassign // dropped, so that the heap measured below does not hold it

	heapInUse := func() uint64 { h, _ := memInUse(); return h }
	heap0 := heapInUse()
	conn, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	raw = nil //nolint:ineffassign // as body
	// The first progress message says the watch is set up.
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return m.srv.Watchers() == 1 })
	grown := int64(heapInUse()) - int64(heap0)
	t.Logf("a watch request of %d bytes holds %d bytes of heap", size, grown)
	if limit := int64(4 * size); grown > limit {
		t.Fatalf("a watch request of %d bytes holds %d bytes of heap while open (more than %d)", size, grown, limit)
	}
}
