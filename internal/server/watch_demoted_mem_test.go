package server_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestDemotedWatcherReleasesQueue: a watcher that stops reading is
// demoted when its queue overflows, and the changes queued for it are
// then released: the server does not keep a full queue of changes (here
// 16 steps of 1 MiB) alive for as long as the stalled client keeps its
// connection open. The stalled watcher reads them again from the log if
// it ever resumes (TestWatchStalled).
//
// The changes the hub fans out are followed through weak pointers
// (WatchChangesAlive): once the watcher is demoted, at most 4 may stay
// reachable (the step the stalled watcher is blocked sending, the last one
// the reading watcher sent), where a queue kept holds 16. Until 2026-12-07
// this compared the heap before and after, with a bound of 8 MiB, which
// counted whatever else the process kept meanwhile: the bus's pool of idle
// log readers, with buffers as large as the records they read, raised the
// growth it measured from 4.8 MB to 6.2 MB.
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
	alive := server.WatchChangesAlive(srv)

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
	// What is released is gone after a garbage collection; a send in
	// progress may hold a step a little longer: poll.
	const most = queue / 4
	var held []mmsb.LSN
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		runtime.GC()
		if held = alive(); len(held) <= most || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("with the demoted watcher open, the changes at LSNs %v of those up to %d are still reachable", held, bus.LastLSN())
	if len(held) > most {
		t.Fatalf("with a demoted watcher open, %d changes of %d bytes stay reachable (LSNs %v; at most %d may be, being sent): its queue of %d steps is still held",
			len(held), deltaSize, held, most, queue)
	}
}
