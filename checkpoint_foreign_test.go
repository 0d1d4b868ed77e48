package mmsb

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckpointOfAnotherBusIsNotLoaded: a checkpoint copied into a bus's
// checkpoints/ from another bus whose LSNs overlap (a restore into the
// wrong directory) loaded as the newest checkpoint, and Open and Replay
// applied this bus's log after its LSN on top of the other bus's state: a
// state neither bus had (here the page held the other bus's bytes and
// this one's), without an error. The format holds no bus identity; the
// checkpoint's last commit time differs from the time of this log's record
// of its LSN, so it is passed over now, named in Recovery's
// SkippedCheckpoint, and the state is this bus's (from its own older
// checkpoint, or from LSN 1). The control copies in a checkpoint of this
// bus's own history (as `mmsb replay --out` writes it), which loads.
func TestCheckpointOfAnotherBusIsNotLoaded(t *testing.T) {
	// build writes n one-byte commits of val to a new page of a bus in dir
	// (clock from its own start), checkpoints after commit ckAt (-1:
	// never) and returns the checkpoint's path and the final state hash.
	build := func(t *testing.T, fs vfs.FS, dir string, val byte, n, ckAt int, start int64) (string, uint64) {
		t.Helper()
		clock := start
		e, err := Open(dir, &Options{FS: fs, CheckpointBytes: -1, Clock: func() int64 { clock += 1000; return clock }})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		id := mustCreate(t, e, 1, 16)[0]
		var path string
		for i := range n {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{val})}); err != nil {
				t.Fatal(err)
			}
			if i == ckAt {
				info, err := e.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				path = info.Path
			}
		}
		h, err := e.StateHash()
		if err != nil {
			t.Fatal(err)
		}
		return path, h
	}
	copyInto := func(t *testing.T, fs vfs.FS, from, dir string) {
		t.Helper()
		b := testutil.ReadFile(t, fs, from)
		to := fs.Join(dir, "checkpoints", from[strings.LastIndex(from, "/")+1:])
		f, err := fs.Create(to)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		ownAt   int  // this bus's own checkpoint after this commit (-1: none)
		foreign bool // copy in the other bus's checkpoint (else this bus's own, replayed)
	}{
		{name: "over an older checkpoint of its own", ownAt: 1, foreign: true},
		{name: "the only checkpoint", ownAt: -1, foreign: true},
		{name: "its own history, replayed (control)", ownAt: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			_, want := build(t, fs, "/a", 1, 10, tc.ownAt, 1_700_000_000_000_000_000)
			if tc.foreign {
				other, _ := build(t, fs, "/b", 2, 10, 5, 1_800_000_000_000_000_000)
				copyInto(t, fs, other, "/a")
			} else {
				r, err := Replay(ctx, "/a", ReplayTarget{ToLSN: 7}, &Options{FS: fs})
				if err != nil {
					t.Fatal(err)
				}
				info, err := r.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				b := testutil.ReadFile(t, r.FS(), info.Path)
				r.Close()
				if err := fs.MkdirAll("/tmp"); err != nil {
					t.Fatal(err)
				}
				f, err := fs.Create("/tmp/checkpoint-00000000000000000007.ckpt")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(b); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				copyInto(t, fs, "/tmp/checkpoint-00000000000000000007.ckpt", "/a")
			}
			check := func(what string, e *Bus) {
				t.Helper()
				got, err := e.StateHash()
				if err != nil {
					t.Fatal(err)
				}
				rec := e.Recovery()
				skipped := strings.Join(rec.SkippedCheckpoint, "; ")
				if got != want {
					t.Errorf("%s: state hash %x, want this bus's %x (started from %q, LSN %d)", what, got, want, rec.Checkpoint, rec.CheckpointLSN)
				}
				if tc.foreign && !strings.Contains(skipped, "not of this log's history") {
					t.Errorf("%s: skipped checkpoints %q, want the other bus's named as not of this log's history", what, skipped)
				}
				if !tc.foreign && (skipped != "" || rec.CheckpointLSN != 7) {
					t.Errorf("%s: started from %q (LSN %d), skipped %q: want this bus's own replayed checkpoint at LSN 7", what, rec.Checkpoint, rec.CheckpointLSN, skipped)
				}
			}
			r, err := Replay(ctx, "/a", ReplayTarget{}, &Options{FS: fs})
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			check("Replay", r)
			r.Close()
			e, err := Open("/a", &Options{FS: fs, CheckpointBytes: -1})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			check("Open", e)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
