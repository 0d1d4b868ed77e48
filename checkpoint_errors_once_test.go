package mmsb

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCheckpointErrorsSayEachThingOnce provokes the main checkpoint
// failures, taking one and loading one, and checks that each message
// names the file and says each prefix once: the bus's own ("mmsb: "),
// package checkpoint's ("checkpoint: ") and the record decoder's
// ("record: "). Before, a damaged edge record loaded as "... edge record:
// record: op at payload offset 0: record: malformed payload ...", and the
// bus returned package checkpoint's errors from after the commit bare
// ("checkpoint: list ..."), and its removal errors without the checkpoint's
// name ("mmsb: remove old checkpoint: ..."); every failure of writing
// one read "mmsb: checkpoint: checkpoint: create/write/fsync/close/rename".
func TestCheckpointErrorsSayEachThingOnce(t *testing.T) {
	// take runs a checkpoint of a bus whose checkpoint directory fails op
	// (after two good checkpoints, so that one is pruned); the error must
	// contain names.
	take := func(op errorfs.OpKind, names string) func(t *testing.T) (string, error) {
		return func(t *testing.T) (string, error) {
			toggle := errorfs.NewToggle(errorfs.OnPath("checkpoints", errorfs.OnKind(op, errorfs.ErrInjected)))
			e, err := Open("bus", &Options{FS: errorfs.Wrap(vfs.NewMem(), toggle), CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			for range 2 {
				mustCreate(t, e, 2, 64)
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			mustCreate(t, e, 2, 64)
			toggle.On()
			defer toggle.Off()
			_, err = e.Checkpoint(ctx)
			return names, err
		}
	}
	// load loads a checkpoint of a small bus after change damages it (or
	// its records, re-framed: see ckptRecords), through fs.
	load := func(change func(fs *vfs.MemFS, path string) (vfs.FS, string)) func(t *testing.T) (string, error) {
		return func(t *testing.T) (string, error) {
			data, lsn := sampleCheckpoint(t)
			mem := vfs.NewMem()
			path := frameRecords(t, mem, "/ck", lsn, data)
			fs, path := change(mem, path)
			e := openT(t, "", &Options{CheckpointBytes: -1, DisableLog: true})
			defer e.Close()
			return path, e.loadCheckpointFrom(fs, path)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T) (file string, err error)
		bus  bool // returned by the bus: starts "mmsb: "
	}{
		{"create fails", take(errorfs.OpCreate, "bus/checkpoints/checkpoint-00000000000000000006.ckpt.tmp"), true},
		{"write fails", take(errorfs.OpWrite, "bus/checkpoints/checkpoint-00000000000000000006.ckpt.tmp"), true},
		{"fsync fails", take(errorfs.OpSync, "bus/checkpoints/checkpoint-00000000000000000006.ckpt.tmp"), true},
		{"close fails", take(errorfs.OpClose, "bus/checkpoints/checkpoint-00000000000000000006.ckpt.tmp"), true},
		{"rename fails", take(errorfs.OpRename, "bus/checkpoints/checkpoint-00000000000000000006.ckpt"), true},
		{"listing after the commit fails", take(errorfs.OpList, "bus/checkpoints"), true},
		{"removing an old checkpoint fails", take(errorfs.OpRemove, "bus/checkpoints/checkpoint-00000000000000000002.ckpt:"), true},
		{"corrupt file at load", load(func(fs *vfs.MemFS, path string) (vfs.FS, string) {
			f, err := fs.OpenAppend(path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = f.Write([]byte{0})
			_ = f.Close()
			return fs, path
		}), false},
		{"damaged edge record at load", load(func(fs *vfs.MemFS, _ string) (vfs.FS, string) {
			// A state record, then an edge record cut after its kind byte.
			st := record.AppendState(nil, &record.State{LastLSN: 9, NextID: 1, Edges: 1})
			w, err := checkpoint.Create(fs, "/bad", 9)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(record.CkptState, st); err != nil {
				t.Fatal(err)
			}
			if err := w.Append(record.CkptEdge, []byte{byte(record.OpAddEdge), 0x80}); err != nil {
				t.Fatal(err)
			}
			path, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			return fs, path
		}), false},
		{"read fails at load", load(func(fs *vfs.MemFS, path string) (vfs.FS, string) {
			return errorfs.Wrap(fs, errorfs.OnKind(errorfs.OpRead, errorfs.ErrInjected)), path
		}), false},
		{"missing directory at load", load(func(fs *vfs.MemFS, _ string) (vfs.FS, string) {
			return fs, "/gone/" + checkpoint.FileName(9)
		}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file, err := c.run(t)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			// A prefix is a whole segment between ": " separators ("edge
			// record" is not the decoder's "record").
			seen := map[string]int{}
			for _, seg := range strings.Split(msg, ": ") {
				seen[seg]++
			}
			for _, prefix := range []string{"mmsb", "checkpoint", "record"} {
				if seen[prefix] > 1 {
					t.Errorf("%q says %q more than once", msg, prefix+": ")
				}
			}
			if strings.Contains(msg, "checkpoint: checkpoint:") {
				t.Errorf("%q doubles the prefix", msg)
			}
			if !strings.Contains(msg, file) {
				t.Errorf("%q does not name the file %s", msg, file)
			}
			if c.bus && !strings.HasPrefix(msg, "mmsb: checkpoint: ") {
				t.Errorf("%q: want the bus's \"mmsb: checkpoint: \" first", msg)
			}
		})
	}
}
