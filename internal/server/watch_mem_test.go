package server_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// idleWatchers opens n watches on all pages over raw HTTP/1.1 connections
// (a client costs this process little more than its socket), waits until
// every one has delivered a commit, and returns the growth of the
// process's heap and goroutine stacks per watch, in bytes. The watches
// then idle: the progress interval is an hour.
func idleWatchers(t testing.TB, n int) (heapPer, stackPer float64) {
	t.Helper()
	m := newMemServer(t, "", 0)
	bus, srv := m.bus, m.srv
	ctx := context.Background()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	req := m.rawWatchRequest("application/connect+json", []byte(`{"fromLsn":"2"}`))

	heap0, stack0 := memInUse()
	conns := make([]net.Conn, n)
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
			t.Fatalf("watch %d: %v", i, err)
		}
		conns[i] = c
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return srv.Watchers() == int64(n) })
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	// Every watch delivers the change at LSN 2: all are past their start
	// (joined to the hub or reading the log) and idle afterwards.
	for i, c := range conns {
		var got []byte
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		for !bytes.Contains(got, []byte(`"lsn":"2"`)) {
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("watch %d: %v after %q", i, err, got)
			}
			got = append(got, buf[:k]...)
		}
	}
	heap1, stack1 := memInUse()
	if w := srv.Watchers(); w != int64(n) {
		t.Fatalf("%d watches open, want %d", w, n)
	}
	return (float64(heap1) - float64(heap0)) / float64(n), (float64(stack1) - float64(stack0)) / float64(n)
}

// TestIdleWatcherMemory bounds what an idle watch costs the server (with
// its connection): the heap and goroutine stacks grow by less than
// 64 KiB per watch. Measured: about 25 KiB (BenchmarkIdleWatchers).
func TestIdleWatcherMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 200 connections")
	}
	heap, stack := idleWatchers(t, 200)
	t.Logf("per idle watch: heap %.0f B, stacks %.0f B", heap, stack)
	if heap+stack > 64<<10 {
		t.Fatalf("an idle watch costs %.0f B of heap and %.0f B of stack, more than 64 KiB together", heap, stack)
	}
	if heap+stack <= 0 {
		t.Fatalf("the measurement saw no growth (heap %.0f, stack %.0f): it measures nothing", heap, stack)
	}
}

// BenchmarkIdleWatchers reports the memory of 1,000 idle watches, per
// watch (run with -benchtime=1x).
func BenchmarkIdleWatchers(b *testing.B) {
	for range b.N {
		heap, stack := idleWatchers(b, 1000)
		b.ReportMetric(heap, "heap-B/watcher")
		b.ReportMetric(stack, "stack-B/watcher")
	}
}
