package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestWatchEndsWhenHubFails: when the watch hub stops on a bus error (the
// bus failed, or was closed under the server) rather than at Shutdown, the
// watches waiting on it end with the resumable Unavailable error instead
// of hanging until their clients give up.
func TestWatchEndsWhenHubFails(t *testing.T) {
	cases := []struct {
		name  string
		cause string // what the error message must name
		fail  func(t *testing.T, f *fixture, tog *errorfs.Toggle, id mmsb.PageID)
	}{
		{"bus closed", mmsb.ErrClosed.Error(), func(t *testing.T, f *fixture, _ *errorfs.Toggle, _ mmsb.PageID) {
			if err := f.bus.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"bus failed", mmsb.ErrFailed.Error(), func(t *testing.T, f *fixture, tog *errorfs.Toggle, id mmsb.PageID) {
			tog.On()
			if _, err := f.bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err == nil {
				t.Fatal("a commit whose fsync failed succeeded")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
			f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways}})
			ctx := context.Background()
			id, err := f.bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			if err != nil {
				t.Fatal(err)
			}
			raw := mmsbv1connect.NewBusServiceClient(http.DefaultClient, f.http.URL)
			wctx, cancel := context.WithTimeout(ctx, time.Minute) // a hung watch fails the test, not the run
			defer cancel()
			stream, err := raw.Watch(wctx, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(f.bus.LastLSN()) + 1}))
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			if !stream.Receive() { // the first progress message: the watch is up
				t.Fatalf("watch: %v", stream.Err())
			}
			c.fail(t, f, tog, id)
			ended := make(chan error, 1)
			go func() {
				for stream.Receive() {
				}
				ended <- stream.Err()
			}()
			select {
			case err := <-ended:
				wantCode(t, err, connect.CodeUnavailable)
				// The message names the real cause, not a shutdown that
				// never happened, and still says where to resume; the
				// client resumes on the code and the Mmsb-Last-Lsn header.
				msg := err.Error()
				if strings.Contains(msg, "shutting down") || !strings.Contains(msg, c.cause) || !strings.Contains(msg, "resume the watch from LSN") {
					t.Fatalf("a watch ended by the hub failing (%s) says %q: want the cause %q and where to resume, not a shutdown", c.name, msg, c.cause)
				}
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Meta().Get(server.LastLSNKey) == "" {
					t.Fatalf("the error %v lacks the %s header the client resumes from", err, server.LastLSNKey)
				}
				// The hub's failure path ran, not only the watch's own
				// reading of the log.
				waitFor(t, func() bool { return strings.Contains(f.logs.String(), "watch hub stopped") })
			case <-time.After(10 * time.Second):
				t.Fatal("the watch hub stopped on a bus error, and the watch still hangs 10 s later")
			}
		})
	}
}
