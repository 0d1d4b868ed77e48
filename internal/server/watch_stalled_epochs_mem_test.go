package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestStalledWatcherReleasesEpochBase: a watcher catching up from the log
// follows page epochs on the server's shared base (epochs.go), every
// page's epoch at one LSN. The server replaces that base when a watcher
// starts far from it; a watcher stalled in its catch-up by a client that
// stopped reading kept the base it was built on, so that each of them
// could hold a base of every page (16 bytes a page) for as long as its
// connection stayed open. Here 4 watches on every page of a bus of 2^20
// pages, each started after the log moved on far enough for the server
// to build a new base, and each stalled: what the open watches hold (the
// heap with them open, less the heap once they are closed) must stay well
// under a base each. A resumed watcher rebuilds its position from the
// log (TestWatchEpochs, TestWatchStalledEpochsResume).
func TestStalledWatcherReleasesEpochBase(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 2^20 pages")
	}
	const (
		pages     = 1 << 20
		watchers  = 4
		deltaSize = 64 << 10
		commits   = 256   // 16 MiB of deltas: more than a stalled connection buffers
		moveOn    = 40000 // operations between watches: more than two steps of the hub (hubStep)
	)
	m := newMemServer(t, "", 0)
	bus, srv := m.bus, m.srv
	ctx := context.Background()
	specs := make([]mmsb.PageSpec, 1<<16)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 8}
	}
	for range pages / len(specs) {
		if _, err := bus.CreatePages(ctx, specs); err != nil {
			t.Fatal(err)
		}
	}
	small, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	big, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, deltaSize)
	tiny := make([]mmsb.Delta, 4000)

	conns := make([]net.Conn, 0, watchers)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range watchers {
		for n := 0; n < moveOn; n += len(tiny) {
			for k := range tiny {
				tiny[k] = mmsb.Write(small, 0, []byte{byte(k)})
			}
			if _, err := bus.Commit(ctx, tiny); err != nil {
				t.Fatal(err)
			}
		}
		from := bus.LastLSN() + 1
		for k := range commits {
			payload[0] = byte(k)
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(big, 0, payload)}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := net.Dial("tcp", m.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := c.Write(m.rawWatchRequest("application/connect+proto", fmt.Appendf(nil, "\x08%s", uvarint(uint64(from))))); err != nil {
			t.Fatal(err)
		}
		// Read until the first delta's bytes arrive: the watch is then
		// catching up (its epochs built on a base), and stalls there once
		// the connection's buffers fill, as the test reads no more.
		var got []byte
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for len(got) < 2*deltaSize/3 {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("watch %d: %v", i, err)
			}
			got = append(got, buf[:k]...)
		}
		if !bytes.Contains(got, []byte("delta")) {
			t.Fatalf("watch %d: no change in its first %d bytes", i, len(got))
		}
		waitFor(t, func() bool { return srv.Watchers() == int64(i+1) })
	}
	heapInUse := func() uint64 { h, _ := memInUse(); return h }
	open := heapInUse()
	for _, c := range conns {
		_ = c.Close()
	}
	conns = nil
	waitFor(t, func() bool { return srv.Watchers() == 0 })
	closed := heapInUse()
	per := (int64(open) - int64(closed)) / watchers
	t.Logf("per stalled watcher on %d pages: %d bytes of heap (a base is %d)", pages, per, 16*pages)
	// What a stalled watcher holds besides epochs: a step of the log (at
	// most 4 MiB of deltas) and the message being sent, about as much
	// again. A base of its own is 16 MiB more.
	if limit := int64(12 << 20); per > limit {
		t.Fatalf("each stalled watcher holds %d bytes of heap (more than %d): it keeps the epoch base it was built on after the server replaced it", per, limit)
	}
}
