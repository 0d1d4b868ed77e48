package mmsb

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// logFrame is one record frame of a segment file: its offset and LSNs.
type logFrame struct {
	off          int64
	first, count uint64
	length       int64
}

// segmentFrames lists the frames of the segment file at path (format:
// docs/tlog.md), trusting the lengths: for tests that damage them after.
func segmentFrames(t *testing.T, path string) []logFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logFrame
	for off := int64(24); off+20 <= int64(len(b)); {
		n := int64(binary.LittleEndian.Uint32(b[off:]))
		out = append(out, logFrame{off: off, length: n,
			first: binary.LittleEndian.Uint64(b[off+8:]), count: uint64(binary.LittleEndian.Uint32(b[off+16:]))})
		off += 20 + n
	}
	return out
}

// coveredDamageDir makes a bus directory with one log segment holding 40
// commits, a checkpoint after the 25th, and returns it with the segment,
// its frames, the checkpoint's LSN and the state hash at the end.
func coveredDamageDir(t *testing.T) (dir, seg string, frames []logFrame, ckpt LSN, hash uint64) {
	t.Helper()
	dir = t.TempDir()
	e := openT(t, dir, &Options{CheckpointBytes: -1})
	ids := mustCreate(t, e, 4, 64)
	for i := range 40 {
		commitT(t, e, w(ids[i%4], i%60, "abcd"))
		if i == 24 {
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ckpt = info.LSN
		}
	}
	hash = hashOf(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	return dir, segs[0], segmentFrames(t, segs[0]), ckpt, hash
}

// TestOpenSkipsCoveredDamage: a flipped bit in a log record that the
// newest checkpoint covers made Open fail with ErrCorruption (and Repair
// truncate the log there, dropping the records after the checkpoint),
// though the checkpoint and the records after it hold the whole state.
// Open now skips it, says so in Recovery().Log, and reaches the state the
// bus had; Replay from the checkpoint works too. What the damage did lose
// is still reported: Replay from empty fails with ErrCorruption. Negative
// controls: the same flip in a record after the checkpoint, and a
// damaged length (the frame no longer delimits the next), still fail Open.
func TestOpenSkipsCoveredDamage(t *testing.T) {
	dir, seg, frames, ckpt, hash := coveredDamageDir(t)
	var victim logFrame
	for _, f := range frames {
		if f.first+f.count-1 < uint64(ckpt) && f.first > 5 {
			victim = f // the last covered record past the creates
		}
	}
	if victim.off == 0 {
		t.Fatalf("no covered record among %d frames (checkpoint at LSN %d)", len(frames), ckpt)
	}
	flipByte(t, vfs.Default, seg, victim.off+20+victim.length/2)

	e, err := Open(dir, &Options{CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("Open with a damaged record the checkpoint at LSN %d covers (LSN %d): %v", ckpt, victim.first, err)
	}
	rep := e.Recovery().Log
	if rep.CoveredDamage != 1 || rep.CoveredDamageFile != seg || rep.CoveredDamageOffset != victim.off || !strings.Contains(rep.CoveredDamageReason, "checksum") {
		t.Errorf("Recovery().Log = %+v; want one covered damaged record at %s offset %d", rep, seg, victim.off)
	}
	if got := hashOf(t, e); got != hash {
		t.Errorf("state hash %x after recovery past the damage, want %x", got, hash)
	}
	// The bus goes on.
	commitT(t, e, w(1, 0, "z"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Replay(ctx, dir, ReplayTarget{}, nil)
	if err != nil {
		t.Fatalf("Replay from the newest checkpoint past covered damage: %v", err)
	}
	r.Close()
	if r, err := Replay(ctx, dir, ReplayTarget{FromEmpty: true}, nil); !errors.Is(err, ErrCorruption) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("Replay from empty through the damaged record: %v, want ErrCorruption", err)
	}

	t.Run("damage after the checkpoint", func(t *testing.T) {
		dir, seg, frames, ckpt, _ := coveredDamageDir(t)
		var victim logFrame
		for _, f := range frames {
			if f.first > uint64(ckpt)+2 && victim.off == 0 {
				victim = f
			}
		}
		flipByte(t, vfs.Default, seg, victim.off+20+victim.length/2)
		if e, err := Open(dir, &Options{CheckpointBytes: -1}); !errors.Is(err, ErrCorruption) {
			if err == nil {
				e.Close()
			}
			t.Fatalf("Open with a damaged record (LSN %d) after the checkpoint (LSN %d): %v, want ErrCorruption", victim.first, ckpt, err)
		}
	})
	t.Run("damaged length", func(t *testing.T) {
		dir, seg, frames, ckpt, _ := coveredDamageDir(t)
		var victim logFrame
		for _, f := range frames {
			if f.first+f.count-1 < uint64(ckpt) && f.first > 5 {
				victim = f
			}
		}
		flipByte(t, vfs.Default, seg, victim.off) // the length's low byte: the next frame is not where it says
		if e, err := Open(dir, &Options{CheckpointBytes: -1}); !errors.Is(err, ErrCorruption) {
			if err == nil {
				e.Close()
			}
			t.Fatalf("Open with a damaged length in a covered record: %v, want ErrCorruption", err)
		}
	})
}
