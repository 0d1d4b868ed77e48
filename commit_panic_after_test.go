package mmsb

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestSharedCommitPanicThenEveryCall: after a panic out of the bus's own code
// inside Commit failed an on-disk bus in shared mode, every later call
// answers at once (writes, Checkpoint, Propagate and the bus's reads of
// page bytes with ErrFailed; WaitDurable of what was acknowledged, a
// shared-memory reader), Close
// releases the directory (its LOCK: the next Open of the directory works),
// the shared region and the bus's goroutines, and the reopened bus holds
// what was acknowledged, and possibly the batch whose commit panicked.
// Named TestShared* for .ci/run's qemu-arm step, which skips those: there
// qemu emulates the process's own /proc/<pid>/stat, and the reader's
// liveness check read a start time other than the one the writer recorded
// and said the writer was gone
// (CI, 2026-12-07: "writer process … no longer exists (start time
// 8510756, want 8510634)").
func TestSharedCommitPanicThenEveryCall(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	goroutines := runtime.NumGoroutine()
	e, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncGroup, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boundedCall(t, "Close", func() { _ = e.Close() }) })
	id, err := e.CreatePage(ctx, PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	acked, err := e.Commit(ctx, []Delta{w(id, 0, "a")})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	e.mu.Lock()
	e.commits = []commitStamp{} // stampCommit indexes it: out of range
	e.mu.Unlock()
	if v := boundedCall(t, "Commit", func() { _, _ = e.Commit(ctx, []Delta{w(id, 0, "b")}) }); v == nil {
		t.Fatal("Commit did not panic: the test's defect was not reached")
	}
	boundedCall(t, "the calls after", func() {
		if _, err := e.Commit(ctx, []Delta{w(id, 0, "c")}); !errors.Is(err, ErrFailed) {
			t.Errorf("Commit after = %v; want ErrFailed", err)
		}
		if _, err := e.CommitAsync(ctx, []Delta{w(id, 0, "c")}); !errors.Is(err, ErrFailed) {
			t.Errorf("CommitAsync after = %v; want ErrFailed", err)
		}
		if _, err := e.Checkpoint(ctx); !errors.Is(err, ErrFailed) {
			t.Errorf("Checkpoint after = %v; want ErrFailed", err)
		}
		if _, err := e.Propagate(ctx); !errors.Is(err, ErrFailed) {
			t.Errorf("Propagate after = %v; want ErrFailed", err)
		}
		if err := e.WaitDurable(ctx, acked.LastLSN); err != nil {
			t.Errorf("WaitDurable(%d) of an acknowledged commit after = %v", acked.LastLSN, err)
		}
		// The bus's own reads of page bytes answer with the failure (the
		// page may hold part of the batch); a reader in shared memory
		// reads the region without the bus's lock, and is told the
		// writer is gone (the failure closed the region).
		if b, _, err := e.ReadPage(id, nil); !errors.Is(err, ErrFailed) {
			t.Errorf("ReadPage after = %q, %v; want ErrFailed", b, err)
		}
		if b, _, _, err := rd.ReadPage(id, nil); !errors.Is(err, ErrWriterGone) {
			t.Errorf("shared reader's ReadPage after = %q, %v; want ErrWriterGone", b, err)
		}
		if err := e.Close(); err != nil && !errors.Is(err, ErrFailed) {
			t.Errorf("Close after = %v", err)
		}
	})
	if _, err := os.Stat(e.SharedPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("shared region after Close: %v; want it removed", err)
	}
	rd.Close()
	// The bus's goroutines end with Close (the machine may be slow).
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before Open", n, goroutines)
	}
	e2 := openT(t, dir, &Options{Shared: true, SharedDir: shm})
	b, _, err := e2.ReadPage(id, nil)
	if err != nil || (b[0] != 'a' && b[0] != 'b') {
		t.Fatalf("page after reopen = %q, %v; want the acknowledged %q or the panicked %q", b, err, "a", "b")
	}
}
