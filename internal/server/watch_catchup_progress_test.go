package server_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWatchCatchUpSendsProgress: a watch catching up from the log sends
// its progress messages (every progress interval) while it reads, also
// when the stretch of log touches none of its pages, and every Watch
// stream says its progress interval in the Mmsb-Progress-Ms header.
// A watch on a page nobody wrote, catching up a long log, sent nothing
// between its opening message and joining the hub: a silence a client
// could not tell from a dead connection (client.WatchOptions.SilenceTimeout
// relies on the header's promise). The hook makes each catch-up step
// outlast the 20 ms interval, so that the ticker has fired by the next.
func TestWatchCatchUpSendsProgress(t *testing.T) {
	f := newFixture(t, fixOpts{setup: func(s *server.Server) {
		server.SetWatchCatchUpHook(s, func(mmsb.LSN) { time.Sleep(60 * time.Millisecond) })
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	written, quiet := ids[0], ids[1]
	// More than two steps of a catching-up watcher (16,384 operations).
	for range 9 {
		ds := make([]mmsb.Delta, 4096)
		for k := range ds {
			ds[k] = mmsb.Write(written, uint32(k%8), []byte{byte(k)})
		}
		if _, err := f.bus.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	last := uint64(f.bus.LastLSN())
	rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	stream, err := rpc.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: 1, Pages: []uint64{uint64(quiet)}, ProgressMs: 20}))
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var midway []uint64 // progress messages from inside the catch-up
	for len(midway) == 0 && stream.Receive() {
		m := stream.Msg()
		if len(m.GetChanges()) > 0 && m.GetChanges()[0].GetLsn() > 2 {
			t.Fatalf("a change of page %d at LSN %d, on a watch of page %d", m.GetChanges()[0].GetPage(), m.GetChanges()[0].GetLsn(), quiet)
		}
		if p := m.GetProgressLsn(); p > 2 && p < last {
			midway = append(midway, p)
		}
		if m.GetProgressLsn() >= last {
			break // joined the hub: the catch-up is over
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(midway) == 0 {
		t.Fatalf("no progress message while the watch caught up LSNs 1..%d: only after it joined the hub", last)
	}
	if got := stream.ResponseHeader().Get(server.ProgressMsKey); got != strconv.Itoa(20) {
		t.Fatalf("header %s = %q, want the stream's progress interval, 20", server.ProgressMsKey, got)
	}
}
