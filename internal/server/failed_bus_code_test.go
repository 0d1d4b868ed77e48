package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestFailedBusCode: once a log write or fsync failed, the bus refuses
// every write (mmsb.ErrFailed, sticky); the server answers them with
// Unavailable, as /readyz turns 503 (this server will not take writes
// again; a restarted one recovers from the log), not with Internal, which
// says the server has a bug.
func TestFailedBusCode(t *testing.T) {
	f, id := failedBusFixture(t)
	ctx := context.Background()
	cases := []struct {
		name string
		call func() error
	}{
		{"Commit", func() error {
			_, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("y"))})
			return err
		}},
		{"CreatePages", func() error {
			_, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
			return err
		}},
		{"SetMetadata", func() error {
			return f.c.SetMetadata(ctx, id, []mmsb.MetaEntry{{Key: "k", Value: []byte("v")}})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "bus failed") {
				t.Fatalf("%s on a failed bus: want unavailable naming the failure, got %v (code %v)", c.name, err, connect.CodeOf(err))
			}
		})
	}
}

// failedBusFixture serves a bus that failed for good: a commit through the
// server met a failed fsync (SyncAlways). It returns the fixture and the
// page that commit wrote.
func failedBusFixture(t *testing.T) (*fixture, mmsb.PageID) {
	t.Helper()
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	tog.On()
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err == nil {
		t.Fatal("a commit whose fsync failed succeeded")
	}
	tog.Off()
	return f, id
}
