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

// TestCatchingUpWatcherEpochMemory: a watcher catching up from the log
// follows page epochs itself (epochs.go). Built as a map of every page's
// epoch, N watchers catching up on a bus of P pages held N×P entries. Here
// 8 watches on every page, each stalled in the middle of its catch-up by a
// client that stopped reading, on a bus of 2^20 pages: the heap must grow
// by much less per watcher than a map of every page costs.
func TestCatchingUpWatcherEpochMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 2^20 pages")
	}
	const (
		pages     = 1 << 20
		watchers  = 8
		deltaSize = 64 << 10
		commits   = 256 // 16 MiB of deltas: more than a stalled connection buffers
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
	big, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	from := bus.LastLSN() + 1
	payload := make([]byte, deltaSize)
	for i := range commits {
		payload[0] = byte(i)
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(big, 0, payload)}); err != nil {
			t.Fatal(err)
		}
	}
	heapInUse := func() uint64 { h, _ := memInUse(); return h }
	heap0 := heapInUse()

	req := m.rawWatchRequest("application/connect+proto", fmt.Appendf(nil, "\x08%s", uvarint(uint64(from))))
	conns := make([]net.Conn, watchers)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := net.Dial("tcp", m.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		// Read until the first delta's bytes arrive: the watch is then
		// catching up from the log (its epochs built), and stalls there
		// once the connection's buffers fill, as the test reads no more.
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
	}
	waitFor(t, func() bool { return srv.Watchers() == watchers })
	per := (int64(heapInUse()) - int64(heap0)) / watchers
	t.Logf("per watcher catching up on %d pages: %d bytes of heap (%.1f B/page)", pages, per, float64(per)/pages)
	// What a watcher holds besides epochs: a step of the log (at most
	// 4 MiB of deltas) and the message being sent, about as much again;
	// and its share of the base (16 MiB for all). Measured: 44 B a page
	// with a map per watcher, about 10 with the shared base.
	if limit := int64(16 << 20); per > limit {
		t.Fatalf("each watcher catching up on a bus of %d pages holds %d bytes of heap (more than %d): it keeps epochs of every page", pages, per, limit)
	}
}

func uvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
