package mmsb

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// ReadPageAt of an LSN not yet committed is a bad argument, not lost
// history: ErrInvalidOption naming the last LSN, not ErrLogTruncated.
func TestReadPageAtPastLastLSN(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	defer e.Close()
	ids := mustCreate(t, e, 1, 8)
	commitT(t, e, w(ids[0], 0, "x"))
	last := e.LastLSN()
	for _, lsn := range []LSN{last + 1, last + 1000, math.MaxUint64} {
		b, ep, err := e.ReadPageAt(ctx, ids[0], lsn)
		if !errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrLogTruncated) {
			t.Errorf("ReadPageAt(%d, LSN %d) with last LSN %d = %q, %d, %v; want ErrInvalidOption", ids[0], lsn, last, b, ep, err)
		}
	}
	// The last LSN itself is the current state.
	if b, ep, err := e.ReadPageAt(ctx, ids[0], last); err != nil || ep != 1 || b[0] != 'x' {
		t.Fatalf("ReadPageAt(last LSN %d) = %q, %d, %v", last, b, ep, err)
	}
}

// The package-level Replay of a target LSN past the directory's last one
// is a bad argument too (it said ErrLogTruncated: "the log no longer
// holds the requested history", of history that never was), unless a
// checkpoint newer than the log's end shows that committed operations
// are missing: then ErrCorruption naming the checkpoint.
func TestReplayDirPastLastLSN(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	ids := mustCreate(t, e, 1, 8)
	commitT(t, e, w(ids[0], 0, "x"))
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, lsn := range []LSN{last + 1, math.MaxUint64} {
		r, err := Replay(ctx, dir, ReplayTarget{ToLSN: lsn}, nil)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrInvalidOption) || errors.Is(err, ErrLogTruncated) || !strings.Contains(err.Error(), fmt.Sprintf("past the last LSN %d", last)) {
			t.Errorf("Replay(%s, to LSN %d) with last LSN %d: %v; want ErrInvalidOption naming the last LSN", dir, lsn, last, err)
		}
	}
	r, err := Replay(ctx, dir, ReplayTarget{ToLSN: last}, nil)
	if err != nil {
		t.Fatalf("Replay to the last LSN %d: %v", last, err)
	}
	r.Close()

	// The newest checkpoint's last record torn away and the checkpoint
	// damaged: the replay falls back to the older one and the log ends
	// before the newest's LSN.
	fs, cks, _ := replayFallbackDir(t, 2, false)
	newest := cks[len(cks)-1]
	segs, err := fs.List("/db/wal")
	if err != nil || len(segs) == 0 {
		t.Fatalf("wal: %v %v", segs, err)
	}
	segs = slices.DeleteFunc(segs, func(n string) bool { return !isSegmentName(n) }) // not wal/newest-segment
	seg := fs.Join("/db/wal", segs[len(segs)-1])
	data := testutil.ReadFile(t, fs, seg)
	writeAll(t, fs, seg, data[:len(data)-3])
	flipByte(t, fs, newest.Path, -30)
	r, err = Replay(ctx, "/db", ReplayTarget{ToLSN: newest.LSN + 5}, &Options{FS: fs})
	if err == nil {
		r.Close()
	}
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), newest.Path) {
		t.Fatalf("Replay past the end of a log that ends before checkpoint %s: %v; want ErrCorruption naming it", newest.Path, err)
	}
}
