package mmsb_test

import (
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestSharedReadersCounted: the writer counts two reader processes while
// they are attached, without their help, and none once they exited; a
// Reader in the writer's own process is not counted.
func TestSharedReadersCounted(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	bus := openShared(t, dir, shm)
	defer bus.Close()
	specs := make([]mmsb.PageSpec, tortureBase)
	for i := range specs {
		specs[i].Size = 1024
	}
	if _, err := bus.CreatePages(t.Context(), specs); err != nil {
		t.Fatal(err)
	}
	own, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if n, err := bus.SharedReaders(); err != nil || n != 0 {
		t.Fatalf("no reader process: %d %v", n, err)
	}
	// The readers stay attached until their stdin closes.
	readers := []*child{
		startChild(t, childRun, "holder", dir, shm, time.Hour),
		startChild(t, childRun, "holder", dir, shm, time.Hour),
	}
	for _, r := range readers {
		if _, err := r.expect("ATTACHED", 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitCount := func(want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			n, err := bus.SharedReaders()
			if err != nil {
				t.Fatal(err)
			}
			if n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("SharedReaders = %d, want %d", n, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitCount(2)
	for i, r := range readers {
		_ = r.stdin.Close()
		if _, err := r.expect("DETACHED", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := r.wait(); err != nil {
			t.Fatalf("reader %d: %v\n%s", i, err, r.out.String())
		}
	}
	waitCount(0)
}
