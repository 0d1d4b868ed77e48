package server_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestDemotedWatcherReleasesQueue: a watcher that stops reading is
// demoted when its queue overflows, and the changes queued for it are
// then released: the server does not keep a full queue of changes (here
// 16 steps of 1 MiB) alive for as long as the stalled client keeps its
// connection open. The stalled watcher reads them again from the log if
// it ever resumes (TestWatchStalled).
func TestDemotedWatcherReleasesQueue(t *testing.T) {
	const (
		queue     = 16
		deltaSize = 1 << 20
		commits   = 200
	)
	m := newMemServer(t, t.TempDir(), queue)
	bus, srv := m.bus, m.srv
	ctx := context.Background()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, deltaSize)
	commit := func(i int) {
		payload[0] = byte(i)
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, payload)}); err != nil {
			t.Fatal(err)
		}
	}
	commit(0)
	heapInUse := func() uint64 { h, _ := memInUse(); return h }
	heap0 := heapInUse()

	// A watch on every page from the next LSN, over a raw connection
	// with a small receive buffer that the test never reads.
	from := bus.LastLSN() + 1
	conn, err := net.Dial("tcp", m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := conn.Write(m.rawWatchRequest("application/connect+json", fmt.Appendf(nil, `{"fromLsn":"%d"}`, from))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Watchers() == 1 })
	c, err := client.New(m.http.URL)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan mmsb.LSN, 1)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = c.Watch(wctx, client.WatchOptions{FromLSN: from}, func(ev client.WatchEvent) error {
			for _, ch := range ev.Changes {
				seen <- ch.LSN
			}
			return nil
		})
	}()
	waitFor(t, func() bool { return srv.Watchers() == 2 })
	for i := 1; i <= commits && srv.SlowWatcherDemotions() == 0; i++ {
		commit(i)
		// Wait until a reading watcher has the commit: the hub has then
		// fanned it out as a step of its own.
		for l := range seen {
			if l == bus.LastLSN() {
				break
			}
		}
	}
	if srv.SlowWatcherDemotions() == 0 {
		t.Fatalf("the stalled watcher was never demoted after %d commits of %d bytes", commits, deltaSize)
	}
	grown := int64(heapInUse()) - int64(heap0)
	t.Logf("heap grew by %d bytes with the demoted watcher open", grown)
	if limit := int64(queue/2) * deltaSize; grown > limit {
		t.Fatalf("with a demoted watcher open the heap grew by %d bytes (more than %d): its queue of %d steps of %d bytes is still held",
			grown, limit, queue, deltaSize)
	}
}
