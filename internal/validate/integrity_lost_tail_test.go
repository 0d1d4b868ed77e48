package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityCatchesLogEndingBeforeCheckpoint: the log is cut cleanly at
// a frame boundary (whole records lost, nothing torn) below the newest
// checkpoint's LSN. A checkpoint is written only once the log holds its
// LSN, so operations the checkpoint covers are missing; the scan never
// reached the checkpoint, compared nothing with it and reported nothing
// (the replay validator caught it; integrity passed). The uncut log passes
// first.
func TestIntegrityCatchesLogEndingBeforeCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), SegmentBytes: 1024, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, e, 10, 6)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)

	wal := fs.Join(busDir, "wal")
	segs := segmentNames(t, fs, wal)
	seg := fs.Join(wal, segs[len(segs)-1])
	// Cut before the first record that reaches 8 LSNs below the checkpoint.
	cut, cutAt := int64(-1), mmsb.LSN(0)
	if _, err := tlog.Check(fs, wal, func(rec *tlog.Record) error {
		if cut < 0 && rec.File == seg && rec.LastLSN() >= ck.LSN-8 && rec.FirstLSN > 1 {
			cut, cutAt = rec.Offset, rec.FirstLSN-1
		}
		return nil
	}, func(p tlog.Problem) { t.Fatalf("clean log: %v", p) }); err != nil {
		t.Fatal(err)
	}
	if cut <= 0 {
		t.Fatal("no record to cut at in the last segment")
	}
	b := testutil.ReadFile(t, fs, seg)
	writeFile(t, fs, seg, b[:cut])
	if err := checkpoint.Verify(fs, ck.Path); err != nil {
		t.Fatal(err)
	}
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	p := requireKind(t, rep, err, "before checkpoint", KindLSN, 0)
	if p.LSN != ck.LSN || rep.Total != 1 {
		t.Fatalf("want one problem at the checkpoint's LSN %d (log cut after LSN %d), got %d: %v", ck.LSN, cutAt, rep.Total, rep.Problems)
	}
}
