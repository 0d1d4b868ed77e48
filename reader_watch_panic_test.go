package mmsb

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReaderWatchPanicIsGone: a panic out of a Reader's liveness check
// (a defect of the bus's own code, made here by a test hook) on its
// background goroutine ended the reader's process ("panic: reader watch
// bug"). Now it is a failed check: reads answer ErrWriterGone naming the
// panic, the Reader closes, and the writer's bus, another process's in
// real use, goes on.
func TestReaderWatchPanicIsGone(t *testing.T) {
	shmBase := ""
	if st, err := os.Stat(DefaultSharedDir); err == nil && st.IsDir() {
		shmBase = DefaultSharedDir
	}
	if d := os.Getenv("MMSB_TEST_SHM"); d != "" {
		shmBase = d
	}
	shm, err := os.MkdirTemp(shmBase, "mmsb-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(shm) })
	dir := t.TempDir()
	b, err := Open(dir, &Options{Shared: true, SharedDir: shm, Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()
	id, err := b.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	bug := "reader watch bug"
	var armed atomic.Bool
	armed.Store(true)
	hook := func() {
		if armed.Load() {
			panic(bug)
		}
	}
	watchHook.Store(&hook)
	t.Cleanup(func() { watchHook.Store(nil) })
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm, LivenessInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, _, err = rd.ReadPage(id, nil)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reads still succeed 10 s after the liveness check panicked")
		}
		time.Sleep(time.Millisecond)
	}
	armed.Store(false)
	if !errors.Is(err, ErrWriterGone) || !strings.Contains(err.Error(), bug) {
		t.Fatalf("ReadPage after the check panicked = %v; want ErrWriterGone naming %q", err, bug)
	}
	if p := boundedCall(t, "the calls after", func() {
		if err := rd.Close(); err != nil {
			t.Errorf("Reader.Close after the panic: %v", err)
		}
		if _, err := b.Commit(ctx, []Delta{w(id, 0, "after")}); err != nil {
			t.Errorf("the writer's commit after the reader's panic: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("the writer's Close: %v", err)
		}
	}); p != nil {
		t.Fatalf("a call after the panic panicked: %v", p)
	}
}
