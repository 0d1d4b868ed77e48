package validate

import (
	"io"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityStartsFromACoveringCheckpoint: when the log no longer holds
// LSN 1, the integrity scan tracks the state from the oldest checkpoint
// that covers the LSN before the log's first. Here an older checkpoint,
// one the log was trimmed past, is back beside the ones retention kept (a
// restored backup; Open recovers from the newest and passes). The scan
// must start from the newer checkpoint that covers the log's start: taken
// from the older one, the operations between it and the log's first are
// missing from the tracked state, and the next checkpoint's epochs
// disagree with it. The "covers" test of that choice had no control: made
// always true, every test of the package passed.
func TestIntegrityStartsFromACoveringCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	var first mmsb.CheckpointInfo
	var firstBytes []byte
	for round := range 5 {
		for i := range 12 {
			data := make([]byte, 512)
			data[0] = byte(round*12 + i)
			if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 0, Data: data}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if round < 4 {
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				first, firstBytes = info, readAllFile(t, fs, info.Path)
			}
		}
	}
	oldest := e.Stats().Log.OldestLSN
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err := fs.Open(first.Path); err == nil {
		f.Close()
		t.Fatalf("checkpoint %s (LSN %d) was not removed by retention", first.Path, first.LSN)
	}
	if first.LSN >= oldest-1 {
		t.Fatalf("log starts at LSN %d, covered by the first checkpoint (LSN %d): the case needs a log trimmed past it", oldest, first.LSN)
	}
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err) // the control: the directory as the bus left it
	writeFile(t, fs, first.Path, firstBytes)
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	for _, n := range rep.Notes {
		if strings.HasPrefix(n, "state tracked from checkpoint "+first.Path+" ") {
			t.Fatalf("state tracked from the checkpoint the log was trimmed past: %s", n)
		}
	}
}

func readAllFile(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
