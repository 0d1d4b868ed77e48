package server_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestWatchFromZeroCompactedLog: FromLSN 0 means the start of the log as
// the server holds it, for Watch as for QueryLog: on a log checkpoints
// trimmed, a watch from 0 delivers what QueryLog{FromLSN: 0} gives, from
// the oldest LSN left. Until 2026-12-07 Watch took 0 for 1 and failed
// with a *CompactedError ("watch from LSN 1: compacted, the log starts
// at LSN N"). The control: FromLSN 1 is still refused as compacted.
func TestWatchFromZeroCompactedLog(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), bus: &mmsb.Options{SegmentBytes: 4096}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		for i := range 30 {
			if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, make([]byte, 500+i))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	oldest, last := f.bus.Stats().Log.OldestLSN, f.bus.LastLSN()
	if oldest <= 1 {
		t.Fatalf("checkpoint removed no segment (oldest LSN %d)", oldest)
	}
	var want []mmsb.LSN
	if err := f.c.QueryLog(ctx, mmsb.LogQuery{FromLSN: 0}, func(lo *mmsb.LoggedOp) bool {
		want = append(want, lo.LSN)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || want[0] != oldest {
		t.Fatalf("QueryLog from 0 gave %v, want it to start at the oldest LSN %d", want, oldest)
	}
	stop := errors.New("caught up")
	var got []mmsb.LSN
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: 0}, func(ev client.WatchEvent) error {
		for _, c := range ev.Changes {
			got = append(got, c.LSN)
		}
		if ev.ProgressLSN >= last {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Watch from 0: %v, want the log from LSN %d delivered", err, oldest)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Watch from 0 delivered %v, QueryLog from 0 %v", got, want)
	}
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: 1}, func(client.WatchEvent) error { return nil })
	if ce := (*client.CompactedError)(nil); !errors.As(err, &ce) || ce.RequestedLSN != 1 || ce.OldestLSN != oldest {
		t.Fatalf("Watch from 1: %v, want a CompactedError from LSN 1, oldest %d", err, oldest)
	}
}
