package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestStalledWatcherReleasesEpochBase: a watcher catching up from the log
// follows page epochs on the server's shared base (epochs.go), every
// page's epoch at one LSN. The server replaces that base when a watcher
// starts far from it; a watcher stalled in its catch-up by a client that
// stopped reading kept the base it was built on, so that each of them
// could hold a base of every page (16 bytes a page) for as long as its
// connection stayed open. Here 4 watches on every page of a bus of 2^20
// pages, each started after the log moved on far enough for the server
// to build a new base, and each stalled: every base the
// server replaced must become unreachable while the stalled watches stay
// open (a weak pointer to it is cleared by a garbage collection), and
// the server's current one stays. Until 2026-12-07 this compared the heap
// with the watches open and closed, which depended on what else the
// collector found in use at that moment, and failed once under load. A
// resumed watcher rebuilds its position from the log (TestWatchEpochs,
// TestWatchStalledEpochsResume).
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

	bases := map[uint64]func() bool{} // by generation: alive?
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
		gen, alive := server.EpochBaseAlive(srv)
		bases[gen] = alive
	}
	current := server.EpochBaseBuilds(srv)
	var old []func() bool // the bases the server replaced
	for gen, alive := range bases {
		if gen != current {
			old = append(old, alive)
		}
	}
	if len(old) == 0 {
		t.Fatalf("%d watches started far apart: the server replaced none of its epoch bases (%d built)", watchers, current)
	}
	// Each stalled watcher parks its tracker before it sends: the bases
	// the server replaced are then held by nothing. A watcher still
	// working towards its stall may hold one for a moment: asked again
	// until the deadline (a stalled watcher holding its base holds it
	// for as long as its connection is open).
	held := func() (n int) {
		runtime.GC()
		for _, alive := range old {
			if alive() {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for held() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d epoch bases the server replaced are still held by its %d stalled watchers (open 30 s): a stalled watcher keeps the epoch base it was built on (16 bytes a page, %d MiB here)",
				held(), len(old), watchers, 16*pages>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if alive, ok := bases[current]; ok && !alive() {
		t.Fatal("the server's current epoch base was collected: the check above proves nothing")
	}
	if got := srv.Watchers(); got != watchers {
		t.Fatalf("%d watches open, want the %d stalled ones", got, watchers)
	}
}
