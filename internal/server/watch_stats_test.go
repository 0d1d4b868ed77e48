package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestWatchStatsFollowWatches: the counts a /metrics scrape reads
// (WatchStats, now kept by the hub rather than walked) follow real
// watches: three synced watches that have read every commit leave no
// batch pending, and once they end none is synced or pending.
func TestWatchStatsFollowWatches(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	rpc := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
	const watches = 3
	var streams []*connect.ServerStreamForClient[mmsbv1.WatchResponse]
	for range watches {
		s, err := rpc.Watch(ctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(f.bus.LastLSN()) + 1, ProgressMs: 20}))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		streams = append(streams, s)
	}
	waitFor(t, func() bool { return f.srv.WatchStats().Synced == watches })
	for i := range 20 {
		if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	last := uint64(f.bus.LastLSN())
	for i, s := range streams {
		for got := uint64(0); got < last; {
			if !s.Receive() {
				t.Fatalf("watch %d ended at LSN %d of %d: %v", i, got, last, s.Err())
			}
			got = max(got, s.Msg().GetProgressLsn())
		}
	}
	waitFor(t, func() bool {
		st := f.srv.WatchStats()
		return st.Synced == watches && st.PendingBatches == 0
	})
	for _, s := range streams {
		_ = s.Close()
	}
	waitFor(t, func() bool {
		st := f.srv.WatchStats()
		return st.Watchers == 0 && st.Synced == 0 && st.PendingBatches == 0
	})
}
