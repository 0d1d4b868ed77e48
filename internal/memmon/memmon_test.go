package memmon

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

var ctx = context.Background()

func TestSnapshotSanity(t *testing.T) {
	runtime.GC() // at least one pause to read
	s := Take(nil)
	if s.RSSError != "" && runtime.GOOS == "linux" {
		t.Fatalf("RSS: %s", s.RSSError)
	}
	if runtime.GOOS == "linux" && (s.RSSBytes == 0 || s.RSSPeakBytes < s.RSSBytes) {
		t.Fatalf("RSS %d peak %d", s.RSSBytes, s.RSSPeakBytes)
	}
	if s.GoHeapBytes == 0 || s.GoTotalBytes < s.GoHeapBytes || s.GCCycles == 0 {
		t.Fatalf("runtime figures: %+v", s)
	}
	if s.GCPauseMetric == "" || s.GCPauses == 0 || s.GCPauseMax <= 0 || s.GCPauseP99 <= 0 || s.GCPauseP99 > s.GCPauseMax {
		t.Fatalf("GC pauses unreadable: %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["rss_bytes"] == nil || back["gc_pause_p99_ns"] == nil {
		t.Fatalf("JSON %s: %v", b, err)
	}
}

func TestParseStatus(t *testing.T) {
	good := []byte("Name:\tx\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads:\t4\n")
	rss, hwm, err := parseStatus(good)
	if err != nil || rss != 1<<20 || hwm != 2<<20 {
		t.Fatalf("parse = %d %d %v", rss, hwm, err)
	}
	bad := []string{
		"",
		"Name:\tx\n",
		"VmRSS:\tlots kB\nVmHWM:\t1 kB\n",
		"VmRSS:\t12 MB\nVmHWM:\t1 kB\n",
		"VmRSS:\t99999999999999999999 kB\n",
	}
	for _, b := range bad {
		if _, _, err := parseStatus([]byte(b)); !errors.Is(err, ErrNoProcStatus) {
			t.Errorf("parseStatus(%q) = %v, want ErrNoProcStatus", b, err)
		}
	}
	old := ProcStatusPath
	ProcStatusPath = "/nonexistent/status"
	defer func() { ProcStatusPath = old }()
	if s := Take(nil); s.RSSError == "" || s.RSSBytes != 0 {
		t.Fatalf("missing /proc not reported: %+v", s)
	}
}

func TestEngineFiguresAndReclaim(t *testing.T) {
	e, err := mmsb.Open("/bus", &mmsb.Options{FS: vfs.NewMem(), SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	specs := make([]mmsb.PageSpec, 1000)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 1024}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		d := delta.Delta{Page: ids[i], Runs: []delta.Run{{Offset: 0, Data: make([]byte, 64)}}}
		d.Runs[0].Data[0] = byte(i) + 1
		if _, err := e.Commit(ctx, []delta.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	s := Take(e)
	if s.Pages != 1000 || s.LogicalBytes != 1000*1024 || s.ArenaBytes < s.LogicalBytes || s.ArenaInUse < s.LogicalBytes {
		t.Fatalf("store figures: %+v", s)
	}
	if runtime.GOOS == "linux" && (s.AvgPageRSSBytes <= 0 || s.PerPageOverheadBytes != (float64(s.RSSBytes)-float64(s.LogicalBytes))/1000) {
		t.Fatalf("per-page figures: %+v", s)
	}
	r, err := MeasureReclaim(ctx, e, ids[:100])
	if err != nil || r.Pages != 100 || r.Duration <= 0 || r.ArenaFreeAfter <= r.ArenaFreeBefore {
		t.Fatalf("reclaim: %+v %v", r, err)
	}
	if got := Take(e).Pages; got != 900 {
		t.Fatalf("pages after reclaim %d, want 900 (nothing else freed)", got)
	}
	// A missing page stops the batch with the engine's error.
	if r, err := MeasureReclaim(ctx, e, []mmsb.PageID{ids[100], 999999}); !errors.Is(err, mmsb.ErrPageNotFound) || r.Pages != 1 {
		t.Fatalf("reclaim of a missing page: %+v %v", r, err)
	}
	// Two checkpoints: the second lets the log drop covered segments.
	if _, err := MeasureSegmentCleanup(ctx, e); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		d := delta.Delta{Page: ids[500], Runs: []delta.Run{{Offset: 0, Data: make([]byte, 512)}}}
		d.Runs[0].Data[0] = byte(i) + 1
		if _, err := e.Commit(ctx, []delta.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := MeasureSegmentCleanup(ctx, e)
	if err != nil || c.SegmentsRemoved == 0 || c.Duration <= 0 || c.SegmentsAfter >= c.SegmentsBefore {
		t.Fatalf("cleanup: %+v %v", c, err)
	}
}

func BenchmarkTake(b *testing.B) {
	e, err := mmsb.Open("", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Take(e)
	}
}

// TestParseStatusNeedsBothLines guards parseStatus against reporting a
// figure it never read: a status without VmHWM returned a peak of 0 (below
// the current RSS) and one without VmRSS but with two VmHWM lines returned
// an RSS of 0, both without an error. Each must be refused with
// ErrNoProcStatus naming the missing line.
func TestParseStatusNeedsBothLines(t *testing.T) {
	for _, tc := range []struct{ status, missing string }{
		{"VmRSS:\t    1024 kB\n", "VmHWM"},
		{"VmHWM:\t    2048 kB\nVmHWM:\t    2048 kB\n", "VmRSS"},
		{"VmRSS:\t    1024 kB\nVmRSS:\t    1024 kB\n", "VmHWM"},
	} {
		rss, hwm, err := parseStatus([]byte(tc.status))
		if !errors.Is(err, ErrNoProcStatus) || !strings.Contains(err.Error(), tc.missing) {
			t.Errorf("parseStatus(%q) = %d, %d, %v; want ErrNoProcStatus naming %s", tc.status, rss, hwm, err, tc.missing)
		}
	}
}
