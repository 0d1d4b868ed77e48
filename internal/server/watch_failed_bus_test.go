package server_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// watchCounter counts the Watch calls the server receives and runs
// enough once there have been too many.
type watchCounter struct {
	calls  atomic.Int64
	enough int64
	stop   func()
}

func (w *watchCounter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (w *watchCounter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (w *watchCounter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if strings.HasSuffix(conn.Spec().Procedure, "/Watch") && w.calls.Add(1) == w.enough {
			w.stop()
		}
		return next(ctx, conn)
	}
}

// TestWatchClientGivesUpOnFailedBus: the Go client's Watch against a
// server whose bus failed (every watch is opened, with its first progress
// message, and ended at once with the resumable Unavailable error) stops
// after WatchOptions.MaxReconnects reconnections and returns the server's
// error. Before, the opening message counted as progress, so every
// reconnection counted the failures afresh and the client reconnected
// without end, at its first backoff, until its context ended.
func TestWatchClientGivesUpOnFailedBus(t *testing.T) {
	const maxReconnects = 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counter := &watchCounter{enough: 50, stop: cancel}
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways},
		http: server.HTTPOptions{OuterInterceptors: []connect.Interceptor{counter}}})
	id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := f.bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("a commit whose fsync failed: %v, want %v", err, mmsb.ErrFailed)
	}
	err = f.c.Watch(ctx, client.WatchOptions{FromLSN: f.bus.LastLSN() + 1, MaxReconnects: maxReconnects},
		func(client.WatchEvent) error { return nil })
	if calls := counter.calls.Load(); calls != maxReconnects+1 || ctx.Err() != nil {
		t.Fatalf("Watch against a failed bus: the server got %d watches (the test stopped the client at %d), want %d (MaxReconnects %d + 1); error %v",
			calls, counter.enough, maxReconnects+1, maxReconnects, err)
	}
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "reconnections failed") || !strings.Contains(err.Error(), mmsb.ErrFailed.Error()) {
		t.Fatalf("Watch against a failed bus returned %v: want unavailable, naming the reconnections and the bus's failure", err)
	}
}
