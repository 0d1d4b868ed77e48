package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestWatchNoLog: a watch on a bus opened with Options.DisableLog, from
// an old LSN or from the next one, is refused at once with
// failed_precondition naming DisableLog, not answered "compacted" (from
// the next LSN it was, at the first commit): the recipe that error
// names, read then watch from the read's LSN + 1, failed the same way
// each time, since no log holds any change.
func TestWatchNoLog(t *testing.T) {
	f := newFixture(t, fixOpts{dir: t.TempDir(), bus: &mmsb.Options{DisableLog: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []mmsb.LSN{1, f.bus.LastLSN() + 1} {
		events := 0
		err := f.c.Watch(ctx, client.WatchOptions{FromLSN: from, Progress: 10 * time.Millisecond}, func(client.WatchEvent) error {
			// Refused before its first progress: a commit now would
			// have ended it "compacted".
			events++
			if events == 1 {
				if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("y"))}); err != nil {
					t.Error(err)
				}
			}
			return nil
		})
		var ce *client.CompactedError
		if errors.As(err, &ce) || connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "DisableLog") ||
			!errors.Is(err, mmsb.ErrLogTruncated) || events != 0 {
			t.Fatalf("watch from LSN %d of a bus without a log: %d event(s), then %v; want failed_precondition naming DisableLog, no event", from, events, err)
		}
	}
}
