package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestInMemoryBusHoldsOneCheckpoint checks the memory an in-memory bus
// keeps besides its pages: one checkpoint and the log since it (segments
// are dropped whole), however many checkpoints it has taken, and replay
// from that checkpoint still equals the live state. The negative control
// is the same workload on a directory (on an in-memory filesystem): it keeps
// two checkpoints, which the bound must catch.
func TestInMemoryBusHoldsOneCheckpoint(t *testing.T) {
	const pages, pageSize, segment = 2000, 1024, 64 << 10
	const ckptEvery = 40 // batches of 100 deltas (about 100 KiB of log) between checkpoints
	for _, tc := range []struct {
		name      string
		dir       string
		wantBound bool
	}{
		{"in-memory bus", "", true},
		{"bus in a directory (negative control)", "/db", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			opts := &Options{Clock: testClock(), SegmentBytes: segment, CheckpointBytes: -1}
			if tc.dir != "" {
				opts.FS = fs
			}
			e := openT(t, tc.dir, opts)
			defer e.Close()
			if tc.dir == "" {
				fs = e.fs.(*vfs.MemFS)
			}
			ids := mustCreate(t, e, pages, pageSize)
			var info CheckpointInfo
			for b := 1; b <= 5*ckptEvery; b++ {
				ds := make([]delta.Delta, 100)
				for i := range ds {
					ds[i] = w(ids[(b*131+i*17)%pages], (b*7+i)%1000, "0123456789abcdef")
				}
				if _, err := e.Commit(ctx, ds); err != nil {
					t.Fatal(err)
				}
				if b%ckptEvery == 0 {
					var err error
					if info, err = e.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// One checkpoint, the log written since it, and at most two
			// partly covered segments.
			bound := info.Bytes + int64(e.Stats().Log.Bytes-e.lastCkptBytes.Load()) + 2*segment
			used := fs.Usage()
			t.Logf("files %d bytes; one checkpoint %d bytes; bound %d", used, info.Bytes, bound)
			if got := used <= bound; got != tc.wantBound {
				t.Fatalf("files hold %d bytes, bound %d (one checkpoint of %d): within bound %v, want %v",
					used, bound, info.Bytes, got, tc.wantBound)
			}
			rep, err := e.VerifyReplay(ctx, true)
			if err != nil || !rep.Equal() || rep.CheckpointLSN != info.LSN {
				t.Fatalf("replay from the checkpoint: %v, equal %v, from LSN %d (want %d)", err, rep.Equal(), rep.CheckpointLSN, info.LSN)
			}
		})
	}
}
