package mmsb

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// logFlushers counts the goroutines running a log's background flusher
// (tlog.Log.Close waits for its flusher to end, so the count is exact).
func logFlushers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "tlog.(*Log).flusher(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestFailedOpenClosesLog pins issue 7 item 8 (leak on a failed Open):
// when Open fails after it has opened the log (here: the only checkpoint is
// damaged and the log no longer reaches back to LSN 1), the log and its
// group-commit flusher goroutine used to stay behind. Open now closes them.
func TestFailedOpenClosesLog(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/db", &Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	id, err := e.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	info, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage the checkpoint and drop the log it covers.
	names, err := fs.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := fs.Remove(fs.Join("/db/wal", n)); err != nil {
			t.Fatal(err)
		}
	}
	data := readAll(t, fs, info.Path)
	data[len(data)/2] ^= 0xff
	writeAll(t, fs, info.Path, data)

	before := logFlushers()
	for i := 0; i < 3; i++ {
		if _, err := Open("/db", &Options{FS: fs}); !errors.Is(err, ErrCorruption) {
			t.Fatalf("Open with its only checkpoint damaged and no log: %v, want ErrCorruption", err)
		}
	}
	if after := logFlushers(); after != before {
		t.Fatalf("%d log flusher goroutines before three failed Opens, %d after: the log was left open", before, after)
	}
	// The directory is released too: a later Open gets the same error, not ErrLocked.
	if _, err := Open("/db", &Options{FS: fs}); errors.Is(err, ErrLocked) {
		t.Fatal("a failed Open kept the directory lock")
	}
}
