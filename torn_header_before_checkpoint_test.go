package mmsb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesTornHeaderBeforeCheckpoint: the last of several
// segments cut to less than its header, where the segment is named for an
// LSN the newest checkpoint covers. The checkpoint proves that LSN
// durable, header and all, so no crash leaves that: it is damage, as a
// torn record there is (TestOpenRefusesTornTailBeforeCheckpoint). Open
// dropped the segment as a crash's torn header, then refused the log for
// ending before the checkpoint: the refused Open had removed the file, and
// Repair reported nothing lost of the commits after the checkpoint. Now
// Open refuses naming the segment and leaves it; Repair opens at the
// checkpoint and reports the commits after it lost.
func TestOpenRefusesTornHeaderBeforeCheckpoint(t *testing.T) {
	for _, size := range []int64{0, 10} {
		t.Run(fmt.Sprintf("cut to %d bytes", size), func(t *testing.T) {
			dir := t.TempDir()
			e, err := Open(dir, &Options{CheckpointBytes: -1, SegmentBytes: 512, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			id := mustCreate(t, e, 1, 64)[0]
			var ckpt LSN
			for i := range 40 {
				if _, err := e.Commit(ctx, []Delta{Write(id, uint32(i%64), []byte{byte(i + 1)})}); err != nil {
					t.Fatal(err)
				}
				if i == 37 {
					info, err := e.Checkpoint(ctx)
					if err != nil {
						t.Fatal(err)
					}
					ckpt = info.LSN
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
			if err != nil || len(segs) < 2 {
				t.Fatalf("segments %v (%v), want 2 or more", segs, err)
			}
			last := segs[len(segs)-1]
			if first := segFirstLSN(t, last); first > ckpt {
				t.Fatalf("the last segment starts at LSN %d, past the checkpoint's %d", first, ckpt)
			}
			if err := os.Truncate(last, size); err != nil {
				t.Fatal(err)
			}

			_, err = Open(dir, &Options{CheckpointBytes: -1})
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), last) || !strings.Contains(err.Error(), fmt.Sprintf("LSN %d", ckpt)) {
				t.Errorf("Open of a log whose last segment, named before checkpoint LSN %d, is cut to %d bytes: %v; want ErrCorruption naming %s and the LSN", ckpt, size, err, last)
			}
			if st, err := os.Stat(last); err != nil || st.Size() != size {
				t.Errorf("the refused Open changed %s: %v, %v; want it as it was (%d bytes)", last, st, err, size)
			}

			e, err = Open(dir, &Options{CheckpointBytes: -1, Repair: true})
			if err != nil {
				t.Fatalf("Open with Repair: %v", err)
			}
			defer e.Close()
			rec := e.Recovery().Log
			if e.LastLSN() != ckpt || rec.LostFirstLSN != ckpt+1 || rec.LostLastLSN != LostLSNUnknown {
				t.Errorf("Open with Repair: LSN %d, %+v; want LSN %d, LostFirstLSN %d, LostLastLSN LostLSNUnknown", e.LastLSN(), rec, ckpt, ckpt+1)
			}
		})
	}
}

// segFirstLSN is the first LSN of the log segment at path, from its name.
func segFirstLSN(t *testing.T, path string) LSN {
	t.Helper()
	var n uint64
	if _, err := fmt.Sscanf(filepath.Base(path), "%020d.log", &n); err != nil {
		t.Fatalf("segment name %s: %v", path, err)
	}
	return LSN(n)
}
