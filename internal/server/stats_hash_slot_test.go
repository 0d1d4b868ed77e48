package server_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestStatsHashOneAtATime: a Stats call asking for the state hash (every
// page read under the bus's read lock) waits while another one hashes,
// and hashes once that one is done; one whose client gives up while it
// waits ends (it holds no slot). Stats without the hash does not wait. Until 2026-12-06 any number hashed at once, so a
// read-role client could take every core and hold commits back.
func TestStatsHashOneAtATime(t *testing.T) {
	inHash := make(chan struct{}, 4)
	release := make(chan struct{})
	waiting := make(chan struct{}, 4)
	var hashing atomic.Int32
	f := newFixture(t, fixOpts{setup: func(s *server.Server) {
		server.SetStatsHook(s, func() {
			hashing.Add(1)
			inHash <- struct{}{}
			<-release
			hashing.Add(-1)
		})
		server.SetStatsWaitingHook(s, func() { waiting <- struct{}{} })
	}})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the fixture's: its server waits for the calls
	ctx := context.Background()
	if _, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatal(err)
	}
	rpc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL)
	stats := func(ctx context.Context, hash bool) error {
		_, err := rpc.Stats(ctx, connect.NewRequest(&mmsbv1.StatsRequest{StateHash: hash}))
		return err
	}
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(30 * time.Second): // a failure bound
			t.Fatalf("no %s", what)
		}
	}
	first := make(chan error, 1)
	go func() { first <- stats(ctx, true) }()
	wait(inHash, "first hash")

	second := make(chan error, 1)
	go func() { second <- stats(ctx, true) }()
	wait(waiting, "second Stats waiting for the hash slot")
	if n := hashing.Load(); n != 1 {
		t.Fatalf("%d Stats calls hash at once, want 1", n)
	}
	if err := stats(ctx, false); err != nil {
		t.Fatalf("Stats without the hash while one hashes: %v", err)
	}
	short, cancel := context.WithCancel(ctx)
	third := make(chan error, 1)
	go func() { third <- stats(short, true) }()
	wait(waiting, "third Stats waiting for the hash slot")
	cancel()
	if err := recv(t, third, "end of the given-up Stats"); connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("a Stats given up while waiting: %v, want canceled", err)
	}

	unblock()
	if err := recv(t, first, "end of the first Stats"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, second, "end of the second Stats"); err != nil {
		t.Fatal(err)
	}
}
