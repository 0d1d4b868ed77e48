package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestReadAsOfLimit: a Read as of an LSN replays the log into a bus of its
// own, as dear as the bus's state, so Config.MaxAsOfReads bounds how many
// run at once. With the limit at 1 and one as-of read held in its replay,
// a second waits without starting (seen through the server's hooks, not
// through timing), ends with its context's code when its client gives up,
// and once the first is done the next one runs.
func TestReadAsOfLimit(t *testing.T) {
	var started, waiting atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	defer unblock() // a failing test must not leave the first read held
	f := newFixture(t, fixOpts{maxAsOf: 1, setup: func(s *server.Server) {
		server.SetAsOfHooks(s, func() {
			if started.Add(1) == 1 {
				<-release // hold the first as-of read in progress
			}
		}, func() { waiting.Add(1) })
	}})
	ctx := context.Background()
	id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	// A raw client: the Go client's retries would blur which call is which.
	raw := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	read := func(ctx context.Context) error {
		_, err := raw.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{
			Items: []*mmsbv1.ReadItem{{Page: uint64(id)}}, AsOfLsn: uint64(f.bus.LastLSN())}))
		return err
	}

	first := make(chan error, 1)
	go func() { first <- read(ctx) }()
	waitFor(t, func() bool { return started.Load() == 1 })

	ctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	second := make(chan error, 1)
	go func() { second <- read(ctx2) }()
	waitFor(t, func() bool { return started.Load() > 1 || waiting.Load() > 0 })
	if n := started.Load(); n != 1 {
		t.Fatalf("with MaxAsOfReads 1 and an as-of read in progress, a second one started too (%d started, %d waited)", n, waiting.Load())
	}
	cancel2()
	wantCode(t, <-second, connect.CodeCanceled)
	// The server's side of the second call ended with the context's code,
	// never having started.
	waitFor(t, func() bool {
		return strings.Contains(f.logs.String(), `"procedure":"/mmsb.v1.BusService/Read","code":"canceled"`)
	})
	if n := started.Load(); n != 1 {
		t.Fatalf("a waiting as-of read started after its client gave up (%d started)", n)
	}

	unblock()
	if err := recv(t, first, "end of the first as-of read"); err != nil {
		t.Fatalf("the first as-of read: %v", err)
	}
	// Its slot is free again: the next one runs at once.
	if err := read(ctx); err != nil {
		t.Fatalf("an as-of read after the first finished: %v", err)
	}
	if n := started.Load(); n != 2 {
		t.Fatalf("%d as-of reads started, want 2", n)
	}
}
