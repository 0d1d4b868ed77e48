package mmsb

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestTornHeaderAfterGapIsCorruption: a last segment holding only part
// of its header (or zeros) is what a crash leaves while a segment is
// made, and a segment is only ever made where the log continues (a
// rotation at the LSN after the last, a first Open at 1, recovery's at
// the one after the checkpoint). One named past that follows a gap: the
// segments holding the LSNs in between are gone. Open, Replay and a
// DisableLog Open read it as the log's end all the same, so the loss
// went unreported and the next commits took the lost LSNs; with its
// header whole the same gap is corruption. It is refused now, by each of
// them, changing nothing; Repair accepts it, reporting the loss. A torn
// header where the log continues is still the log's end, and Replay of
// the directory gives the state Open gives.
func TestTornHeaderAfterGapIsCorruption(t *testing.T) {
	// written returns a MemFS whose /db holds a page and three commits
	// (LSN 1 to 4) in wal/00…01.log, with a checkpoint at LSN 4 if ckpt.
	written := func(t *testing.T, ckpt bool) *vfs.MemFS {
		t.Helper()
		fs := vfs.NewMem()
		e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes, Clock: testClock()})
		if err != nil {
			t.Fatal(err)
		}
		id := mustCreate(t, e, 1, 16)[0]
		for i := range 3 {
			if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i), []byte{byte(i + 1)})}); err != nil {
				t.Fatal(err)
			}
		}
		if ckpt {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	// torn makes wal/ hold segment first with 11 bytes: its header's
	// first ones, or zeros.
	torn := func(t *testing.T, fs vfs.FS, first LSN, zeros bool) {
		t.Helper()
		path := "/db/wal/" + tlog.SegmentName(first)
		if err := tlog.CreateEmptySegment(fs, "/db/wal", first); err != nil {
			t.Fatal(err)
		}
		f, err := fs.OpenAppend(path)
		if err != nil {
			t.Fatal(err)
		}
		keep := int64(11)
		if zeros {
			keep = 0
		}
		if err := f.Truncate(keep); err != nil {
			t.Fatal(err)
		}
		if zeros {
			if _, err := f.Write(make([]byte, 11)); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	removeFirst := func(t *testing.T, fs vfs.FS) {
		t.Helper()
		if err := fs.Remove("/db/wal/" + tlog.SegmentName(1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		ckpt    bool
		prepare func(t *testing.T, fs vfs.FS)
		refused bool
	}{
		{name: "where the log continues (a rotation's crash)", prepare: func(t *testing.T, fs vfs.FS) { torn(t, fs, 5, false) }},
		{name: "zeros where the log continues", prepare: func(t *testing.T, fs vfs.FS) { torn(t, fs, 5, true) }},
		{name: "after a gap", prepare: func(t *testing.T, fs vfs.FS) { torn(t, fs, 10, false) }, refused: true},
		{name: "zeros after a gap", prepare: func(t *testing.T, fs vfs.FS) { torn(t, fs, 10, true) }, refused: true},
		{name: "only segment, past the checkpoint", ckpt: true, prepare: func(t *testing.T, fs vfs.FS) {
			removeFirst(t, fs)
			torn(t, fs, 10, false)
		}, refused: true},
		{name: "only segment, where the checkpoint ends", ckpt: true, prepare: func(t *testing.T, fs vfs.FS) {
			removeFirst(t, fs)
			torn(t, fs, 5, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := written(t, tc.ckpt)
			tc.prepare(t, fs)
			before := memFiles(t, fs)
			var got [][2]uint64 // each replay's LSN and state hash
			for _, target := range []ReplayTarget{{}, {FromEmpty: true}, {FromOldestCheckpoint: true}} {
				if !tc.ckpt && target.FromOldestCheckpoint {
					continue
				}
				if tc.ckpt && target.FromEmpty {
					continue // the log no longer starts at LSN 1
				}
				r, err := Replay(ctx, "/db", target, &Options{FS: fs})
				if tc.refused {
					if err == nil {
						_ = r.Close()
						t.Fatalf("Replay(%+v) read a torn header after a gap as the log's end", target)
					}
					if !errors.Is(err, ErrCorruption) {
						t.Fatalf("Replay(%+v): %v, want ErrCorruption", target, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Replay(%+v): %v", target, err)
				}
				got = append(got, [2]uint64{uint64(r.LastLSN()), mustHash(t, r)})
				if err := r.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if !tc.refused {
				// Replay equals live: Open gives the state each replay gave.
				e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, SegmentBytes: testSegmentBytes})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer func() { _ = e.Close() }()
				live := [2]uint64{uint64(e.LastLSN()), mustHash(t, e)}
				for _, g := range got {
					if g != live || live[0] != 4 {
						t.Errorf("Replay reached LSN %d hash %x; Open LSN %d hash %x (want LSN 4)", g[0], g[1], live[0], live[1])
					}
				}
				return
			}
			for _, opts := range []Options{{}, {DisableLog: true}} {
				opts.FS, opts.CheckpointBytes = fs, -1
				e, err := Open("/db", &opts)
				if err == nil {
					_ = e.Close()
					t.Fatalf("Open(DisableLog %v) read a torn header after a gap as the log's end: LSN %d", opts.DisableLog, e.LastLSN())
				}
				if !errors.Is(err, ErrCorruption) && !errors.Is(err, ErrInvalidOption) {
					t.Fatalf("Open(DisableLog %v): %v, want ErrCorruption or ErrInvalidOption", opts.DisableLog, err)
				}
			}
			if after := memFiles(t, fs); !slices.Equal(after, before) {
				t.Fatalf("refused, but the files changed: %q, were %q", after, before)
			}
			e, err := Open("/db", &Options{FS: fs, CheckpointBytes: -1, Repair: true})
			if err != nil {
				t.Fatalf("Open with Repair: %v", err)
			}
			defer func() { _ = e.Close() }()
			// From 5, the LSN the next commit takes: where the segment is
			// the only one too (it was reported from its name, 10).
			if rec := e.Recovery().Log; rec.LostFirstLSN != 5 || e.LastLSN() != 4 {
				t.Fatalf("Open with Repair: at LSN %d, lost LSNs %d to %d reported, want LSN 4 and a loss from 5", e.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN)
			}
		})
	}
}

// mustHash is b's StateHash.
func mustHash(t *testing.T, b *Bus) uint64 {
	t.Helper()
	h, err := b.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// memFiles lists every file under /db on fs with its size.
func memFiles(t *testing.T, fs vfs.FS) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"/db", "/db/wal", "/db/checkpoints"} {
		names, err := fs.List(d)
		if err != nil {
			continue
		}
		for _, n := range names {
			p := d + "/" + n
			f, err := fs.Open(p)
			if err != nil {
				out = append(out, p+"/")
				continue
			}
			size, _ := f.Size()
			_ = f.Close()
			out = append(out, fmt.Sprintf("%s=%d", p, size))
		}
	}
	slices.Sort(out)
	return out
}
