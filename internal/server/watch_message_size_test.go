package server_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestWatchMessageSize: a watch that catches up through large deltas gets
// them in messages of bounded size (4 MiB of delta data plus one delta),
// not in one message of up to 512 deltas: 48 deltas of 1 MiB used to come
// as one 48 MiB message, read into the server's memory whole (a step was
// up to 16,384 operations of any size), and past 4 GiB a message cannot
// be framed at all. A client with a 16 MiB read limit gets every change.
func TestWatchMessageSize(t *testing.T) {
	const (
		deltaSize = 1 << 20
		commits   = 48
		readMax   = 16 << 20 // the client refuses larger messages
	)
	f := newFixture(t, fixOpts{dir: t.TempDir(), clientO: []client.Option{client.WithConnectOptions(connect.WithReadMaxBytes(readMax))}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: deltaSize})
	if err != nil {
		t.Fatal(err)
	}
	start := f.bus.LastLSN() + 1
	payload := make([]byte, deltaSize)
	for i := range commits {
		payload[0] = byte(i)
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, payload)}); err != nil {
			t.Fatal(err)
		}
	}
	last := f.bus.LastLSN()
	got := collect(t, f.c, client.WatchOptions{FromLSN: start}, func() mmsb.LSN { return last }, nil)
	checkSame(t, got, logLSNs(t, f.bus, start, last, func(mmsb.PageID) bool { return true }))
}
