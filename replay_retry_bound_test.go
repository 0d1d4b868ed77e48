package mmsb

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestReplayTrimmedAtEachTryIsBounded: Replay starts again when a segment
// it listed is gone as it opens it (a checkpoint of the bus writing the
// directory trimmed it), at most maxReplayTries times: a log trimmed
// under every try is ErrLogTruncated ("try again"), not a replay that
// never returns. A middle segment removed (not trimmed: older ones stay)
// is ErrCorruption, whether it was gone before the replay listed the log
// or went while it read it: starting again does not turn it into
// ErrLogTruncated.
func TestReplayTrimmedAtEachTryIsBounded(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, CheckpointBytes: -1, SegmentBytes: 4096, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	ids := mustCreate(t, e, 1, 64)
	for i := range 200 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := mem.List("/db/wal")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if isSegmentName(n) {
			segs = append(segs, mem.Join("/db/wal", n))
		}
	}
	if len(segs) < 3 {
		t.Fatalf("segments %v, want 3 or more", segs)
	}

	t.Run("trimmed at each try", func(t *testing.T) {
		// Each open of a segment finds it gone, under a new name each
		// time (as the new oldest segment of a log trimmed again). The
		// injections stop after 100: a replay that started again without
		// bound then succeeds.
		injected := 0
		efs := errorfs.Wrap(mem.CrashClone(), errorfs.InjectorFunc(func(op errorfs.Op) error {
			if op.Kind == errorfs.OpOpen && isSegmentName(op.Path[strings.LastIndex(op.Path, "/")+1:]) && injected < 100 {
				injected++
				return fmt.Errorf("open %s (trim %d): %w", op.Path, injected, os.ErrNotExist)
			}
			return nil
		}))
		r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: efs})
		if err == nil {
			r.discard()
		}
		if !errors.Is(err, ErrLogTruncated) || injected != maxReplayTries {
			t.Fatalf("Replay of a log trimmed under each try: %v after %d trims; want ErrLogTruncated after %d tries", err, injected, maxReplayTries)
		}
	})

	for _, during := range []bool{false, true} {
		t.Run(fmt.Sprintf("middle segment removed, during the read=%v", during), func(t *testing.T) {
			fs := mem.CrashClone()
			middle := segs[1]
			if !during {
				if err := fs.Remove(middle); err != nil {
					t.Fatal(err)
				}
			}
			removed := !during
			efs := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpOpen && op.Path == middle && !removed {
					removed = true
					if err := fs.Remove(middle); err != nil {
						t.Error(err)
					}
				}
				return nil
			}))
			r, err := Replay(ctx, "/db", ReplayTarget{}, &Options{FS: efs})
			if err == nil {
				r.discard()
			}
			if !removed || !errors.Is(err, ErrCorruption) || errors.Is(err, ErrLogTruncated) {
				t.Fatalf("Replay of a log whose middle segment %s was removed: %v; want ErrCorruption", middle, err)
			}
		})
	}
}
