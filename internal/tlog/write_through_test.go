package tlog

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// readLast returns the last LSN a new reader of dir sees (0: none).
func readLast(t *testing.T, fs vfs.FS, dir string) base.LSN {
	t.Helper()
	r, err := NewReader(fs, dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last base.LSN
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Fatal(err)
		}
		last = rec.FirstLSN + base.LSN(rec.Count) - 1
	}
}

// TestWriteThroughMakesRecordsReadable: under SyncGroup, appended records
// sit in the log's buffer until a flush (the control: a reader does not see
// them); WriteThrough writes them out, without an fsync, and a reader then
// sees every record up to the LSN asked for.
func TestWriteThroughMakesRecordsReadable(t *testing.T) {
	fs := vfs.NewMem()
	l := openLog(t, Options{FS: fs, Dir: "/wal", Sync: SyncGroup})
	defer l.Close()
	for _, r := range genRecords(1, 10, 64) {
		if _, err := l.Append(r.First, r.Count, r.Payload); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLast(t, fs, "/wal"); got != 0 {
		t.Fatalf("control: a reader saw LSN %d before any flush; the test shows nothing", got)
	}
	syncs := l.Stats().Syncs
	if err := l.WriteThrough(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	last := l.Stats().LastLSN
	if got := readLast(t, fs, "/wal"); got != last {
		t.Fatalf("after WriteThrough a reader sees LSN %d, want %d (the buffer is written whole)", got, last)
	}
	if l.Stats().Syncs != syncs || l.Stats().DurableLSN == last {
		t.Fatalf("WriteThrough fsynced: syncs %d -> %d, durable LSN %d", syncs, l.Stats().Syncs, l.Stats().DurableLSN)
	}
	// Past the last LSN: writes what there is, does not wait for more.
	if err := l.WriteThrough(context.Background(), last+100); err != nil {
		t.Fatal(err)
	}
}
