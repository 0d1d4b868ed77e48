package validate

import (
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityReportsMissingNewestSegment: a directory whose newest log
// segment was removed (wal/newest-segment names it), which Open and
// mmsb.Replay refuse, is an LSN problem naming the missing segment. The
// scan read the log as one ending at the segment before, and passed. The
// control is the directory before the removal, which passes.
func TestIntegrityReportsMissingNewestSegment(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 24 { // about 12 KiB of log: rotations
		if _, err := e.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, make([]byte, 512))}); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	walDir := fs.Join(busDir, "wal")
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	if err != nil || rep.Total != 0 {
		t.Fatalf("control: integrity of the whole log: %v, problems %v", err, problemTexts(rep))
	}
	names, err := fs.List(walDir)
	if err != nil {
		t.Fatal(err)
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasSuffix(n, ".log") })
	if len(names) < 2 {
		t.Fatalf("wal/ holds %v, want a rotation", names)
	}
	slices.Sort(names)
	newest := names[len(names)-1]
	if err := fs.Remove(fs.Join(walDir, newest)); err != nil {
		t.Fatal(err)
	}
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	p := requireKind(t, rep, err, "names segment "+newest+" as the newest the log made, which is missing", KindLSN, 0)
	if want := fs.Join(walDir, tlog.NewestFileName); p.Where != want {
		t.Errorf("problem at %q, want %q", p.Where, want)
	}
}
