package tlog

import (
	"context"
	"os"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
	"pgregory.net/rapid"
)

// TestLogModel drives a log with random appends, syncs, reopens, torn
// tails and RemoveThrough calls, in every sync mode, and checks after each
// step that the Reader (and recovery on reopen) returns exactly the records
// of a simple in-memory model.
func TestLogModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "tlog-model")
		if err != nil {
			rt.Fatal(err)
		}
		defer os.RemoveAll(dir)
		opts := Options{
			FS:           vfs.Default,
			Dir:          dir,
			SegmentBytes: int64(rapid.IntRange(64, 2048).Draw(rt, "segBytes")),
			Sync:         SyncMode(rapid.IntRange(0, 2).Draw(rt, "mode")),
		}
		l := openLog(rt, opts)
		defer func() { l.Close() }()
		var model []rec
		next := base.LSN(1)
		reopen := func() {
			got, _, l2, err := replay(rt, opts, 0)
			if err != nil {
				rt.Fatalf("reopen: %v", err)
			}
			l = l2
			equalRecs(rt, got, model)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"append": func(rt *rapid.T) {
				count := uint32(rapid.IntRange(1, 4).Draw(rt, "count"))
				r := rec{next, count, payloadFor(next, rapid.IntRange(0, 300).Draw(rt, "size"))}
				tk, err := l.Append(r.First, r.Count, r.Payload)
				if err == nil {
					err = l.Wait(context.Background(), tk)
				}
				if err != nil {
					rt.Fatal(err)
				}
				model = append(model, r)
				next += base.LSN(count)
			},
			"sync": func(rt *rapid.T) {
				if err := l.Sync(); err != nil {
					rt.Fatal(err)
				}
			},
			"reopen": func(rt *rapid.T) {
				if err := l.Close(); err != nil {
					rt.Fatal(err)
				}
				reopen()
			},
			"tear": func(rt *rapid.T) {
				if len(model) == 0 {
					rt.Skip("empty log")
				}
				if err := l.Close(); err != nil {
					rt.Fatal(err)
				}
				files, offs := recordOffsets(rt, dir)
				last := len(files) - 1
				end := fileSize(rt, files[last])
				cut := rapid.Int64Range(offs[last], end-1).Draw(rt, "cut")
				if err := os.Truncate(files[last], cut); err != nil {
					rt.Fatal(err)
				}
				next = model[len(model)-1].First
				model = model[:len(model)-1]
				reopen()
			},
			"removeThrough": func(rt *rapid.T) {
				lsn := base.LSN(rapid.Uint64Range(0, uint64(next)).Draw(rt, "lsn"))
				if _, err := l.RemoveThrough(lsn); err != nil {
					rt.Fatal(err)
				}
				segs := segPaths(rt, dir)
				if len(segs) == 0 {
					return
				}
				first, _ := ParseSegmentName(segs[0][len(dir)+1:])
				for len(model) > 0 && model[0].First < first {
					model = model[1:]
				}
			},
			"": func(rt *rapid.T) {
				if err := l.Sync(); err != nil {
					rt.Fatal(err)
				}
				got, err := readAll(rt, dir, 0)
				if err != nil {
					rt.Fatal(err)
				}
				equalRecs(rt, got, model)
			},
		})
	})
}
