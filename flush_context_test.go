package mmsb

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestFlushContextEndsWaitForSync: Flush(ctx) ignored ctx (the log's Sync
// took none), so a Flush behind an fsync another goroutine runs (a stalled
// device, a network filesystem) waited for it whatever its deadline. It
// now returns ctx's error when ctx ends during that wait, the bus is not
// failed, and the fsync it waited for completes as before.
func TestFlushContextEndsWaitForSync(t *testing.T) {
	stuck, release := make(chan struct{}), make(chan struct{})
	var armed sync.Once
	block := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpSync {
			armed.Do(func() { close(stuck); <-release })
		}
		return nil
	})
	tog := errorfs.NewToggle(errorfs.OnPath("wal", block))
	e := openT(t, "/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: SyncNone, CheckpointBytes: -1})
	defer e.Close()
	ids := mustCreate(t, e, 1, 8)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()

	tog.On()
	if _, err := e.Commit(ctx, []Delta{w(ids[0], 0, "x")}); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- e.Flush(context.Background()) }()
	<-stuck // the first Flush is in its fsync

	c, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- e.Flush(c) }()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Flush whose context ended behind another's fsync = %v, want context.Canceled", err)
		}
	case <-time.After(livenessBound):
		t.Fatal("Flush whose context ended still waits for another goroutine's fsync")
	}
	unblock()
	if err := <-first; err != nil {
		t.Fatalf("the Flush that ran the fsync: %v", err)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("bus after a cancelled Flush: %v", err)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}
