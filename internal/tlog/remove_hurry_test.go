package tlog

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRemoveThroughUntilHurry: covered segments are freed 2 MiB at a time
// (vfs.RemoveGradually); once hurry reports true (the bus passes "Close
// has begun") each one is unlinked at once instead, without shrink steps.
// The run without hurry is the control that the steps are counted at all;
// before RemoveThroughUntil the segments a checkpoint covered were shrunk
// step by step, paced, while Close waited.
func TestRemoveThroughUntilHurry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hurry func() bool
	}{
		{"paced", nil},
		{"hurried", func() bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var steps atomic.Int64
			fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpTruncate && strings.HasSuffix(op.Path, ".log"+delSuffix) {
					steps.Add(1)
				}
				return nil
			}))
			l := openLog(t, Options{FS: fs, Dir: "/wal", SegmentBytes: 5 << 20})
			defer l.Close()
			var recs []rec // 20 MiB: four 5 MiB segments
			for lsn := base.LSN(1); lsn <= 40; lsn++ {
				recs = append(recs, rec{First: lsn, Count: 1, Payload: payloadFor(lsn, 512<<10)})
			}
			appendAll(t, l, recs)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			segs := l.Stats().Segments
			if segs < 3 {
				t.Fatalf("%d segments, want at least 3", segs)
			}
			n, err := l.RemoveThroughUntil(1<<62, tc.hurry)
			if err != nil || n != segs-1 {
				t.Fatalf("RemoveThroughUntil = %d, %v; want %d removed", n, err, segs-1)
			}
			names, err := fs.List("/wal")
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				if strings.HasSuffix(name, delSuffix) {
					t.Fatalf("%s left behind", name)
				}
			}
			switch got := steps.Load(); {
			case tc.hurry == nil && got == 0:
				t.Fatal("no shrink steps counted without hurry: the control counts nothing")
			case tc.hurry != nil && got != 0:
				t.Fatalf("%d shrink steps with hurry reporting true, want 0 (each segment unlinked at once)", got)
			}
		})
	}
}
