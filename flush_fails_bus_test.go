package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestFlushFailureFailsBus: a Flush whose fsync fails fails the bus at
// once, as a commit's failed fsync does: Flush returns ErrFailed wrapping
// the cause, Err and Stats().Failed report it, and later writes are
// refused. Before, Flush returned the log's error bare and Err was nil and
// Stats().Failed false until the next write (TestFaultSweep found it).
func TestFlushFailureFailsBus(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnPath("wal", errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected)))
	e, err := Open("/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: SyncNone, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.CreatePage(ctx, PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	tog.On()
	err = e.Flush(ctx)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Flush with a failing fsync = %v, want ErrFailed wrapping the injected error", err)
	}
	tog.Off()
	if err := e.Err(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Err() after a failed Flush = %v, want ErrFailed", err)
	}
	if !e.Stats().Failed {
		t.Fatal("Stats().Failed is false after a failed Flush")
	}
	if err := e.Flush(ctx); !errors.Is(err, ErrFailed) {
		t.Fatalf("second Flush = %v, want ErrFailed (an fsync is never retried)", err)
	}
	if _, err := e.CreatePage(ctx, PageSpec{Size: 8}); !errors.Is(err, ErrFailed) {
		t.Fatalf("CreatePage after a failed Flush = %v, want ErrFailed", err)
	}
}
