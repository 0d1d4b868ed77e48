package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
)

func shmDirForTest(t *testing.T) string {
	t.Helper()
	root := ""
	if st, err := os.Stat(mmsb.DefaultSharedDir); err == nil && st.IsDir() {
		root = mmsb.DefaultSharedDir
	}
	d, err := os.MkdirTemp(root, "mmsb-cli-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// TestReadSharedThenFiles: read uses the writer's shared memory while it
// runs and the files once it closed; both show the same bytes.
func TestReadSharedThenFiles(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x3f})}); err != nil { // 1.5
		t.Fatal(err)
	}
	page := fmt.Sprint(id)
	r := runCLI(t, "read", dir, "--page", page, "--f64", "--shm-dir", shm).mustCode(t, exitOK)
	for _, want := range []string{"source shared memory", "epoch 1", "1.5"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("shared read lacks %q:\n%s", want, r.stdout)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "read", dir, "--page", page, "--shm-dir", shm).mustCode(t, exitOK)
	for _, want := range []string{"source files", "epoch 1", "f8 3f"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("read from files lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, "read", dir, "--page", page, "--at-lsn", "1").mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "epoch 0") {
		t.Errorf("read at LSN 1 (before the write):\n%s", r.stdout)
	}
	runCLI(t, "read", dir).mustCode(t, exitUsage)
	runCLI(t, "read", dir, "--page", page, "--hex", "--f64").mustCode(t, exitUsage)
}

// TestWatchPrintsChanges: watch prints one line per observed change.
func TestWatchPrintsChanges(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := byte(1); !stop.Load(); i++ {
			if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte{i})}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	r := runCLI(t, "watch", dir, "--page", fmt.Sprint(id), "--count", "3", "--shm-dir", shm)
	stop.Store(true)
	<-done
	r.mustCode(t, exitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 3 lines:\n%s", r.stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "lsn=") || !strings.Contains(l, fmt.Sprintf("page=%d ", id)) || !strings.Contains(l, "changed=1") {
			t.Errorf("line %q", l)
		}
	}
	// No writer in shared mode: watch fails.
	runCLI(t, "watch", t.TempDir()).mustCode(t, exitFailure)
}

// TestBenchShared: bench --shared runs the workload in shared mode and the
// replay check still holds; --shared without --dir is a usage error.
func TestBenchShared(t *testing.T) {
	shm := shmDirForTest(t)
	dir := t.TempDir() + "/bus"
	res := benchJSON(t, "--dir", dir, "--shared", "--shm-dir", shm)
	if !res.Shared || res.InMemory || !res.ReplayEqual || res.Deltas != 500 {
		t.Fatalf("%+v", res)
	}
	runCLI(t, append(slices.Clone(smallBench), "--shared")...).mustCode(t, exitUsage)
}
