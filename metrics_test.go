package mmsb

import (
	"context"
	"testing"
)

// checkHistogram asserts the laws every Histogram snapshot obeys: bounds
// strictly ascending, counts cumulative and bounded by Count.
func checkHistogram(t *testing.T, name string, h Histogram) {
	t.Helper()
	if len(h.Bounds) != len(h.Counts) || len(h.Bounds) == 0 {
		t.Fatalf("%s: %d bounds, %d counts", name, len(h.Bounds), len(h.Counts))
	}
	for i := 1; i < len(h.Bounds); i++ {
		if h.Bounds[i] <= h.Bounds[i-1] || h.Counts[i] < h.Counts[i-1] {
			t.Fatalf("%s: bucket %d not ascending/cumulative: %v %v", name, i, h.Bounds, h.Counts)
		}
	}
	if h.Counts[len(h.Counts)-1] > h.Count {
		t.Fatalf("%s: last bucket %d exceeds count %d", name, h.Counts[len(h.Counts)-1], h.Count)
	}
}

func TestMetricsMoveWithTheWork(t *testing.T) {
	ctx := context.Background()
	for _, sync := range []SyncMode{SyncGroup, SyncAlways, SyncNone} {
		t.Run(sync.String(), func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{Sync: sync, CheckpointBytes: -1, SegmentBytes: 4 << 10, Clock: testClock()})
			ids, err := e.CreatePages(ctx, []PageSpec{{Size: 64}, {Size: 64}, {Size: 64}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Bind(ctx, ids[2], "passthrough", nil, ids[:1]); err != nil {
				t.Fatal(err)
			}
			m0 := e.Metrics()
			if m0.SyncMode != sync.String() || m0.Pages != 3 || m0.PageBytes != 3*64 || m0.OldestRetainedLSN != 1 {
				t.Fatalf("after create: %+v", m0)
			}
			const batches, per = 40, 50
			for b := 0; b < batches; b++ {
				ds := make([]Delta, per)
				for i := range ds {
					ds[i] = Write(ids[i%2], uint32(i), []byte{byte(b), byte(i)})
				}
				if _, err := e.Commit(ctx, ds); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.CommitAsync(ctx, []Delta{Write(ids[0], 0, []byte{1})}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatal(err)
			}
			m := e.Metrics()
			if got, want := m.Commits-m0.Commits, uint64(batches+1); got != want {
				t.Errorf("commits moved by %d, want %d", got, want)
			}
			if got, want := m.Deltas-m0.Deltas, uint64(batches*per+1); got != want {
				t.Errorf("deltas moved by %d, want %d", got, want)
			}
			if got := m.CommitDuration.Count - m0.CommitDuration.Count; got != batches {
				t.Errorf("commit duration observations moved by %d, want %d (CommitAsync excluded)", got, batches)
			}
			if m.CommitDuration.Sum <= 0 {
				t.Errorf("commit duration sum %v", m.CommitDuration.Sum)
			}
			if m.PagesRecomputed-m0.PagesRecomputed != 1 {
				t.Errorf("pages recomputed moved by %d, want 1", m.PagesRecomputed-m0.PagesRecomputed)
			}
			if m.LogFsyncDuration.Count == 0 {
				t.Error("no fsync observed")
			}
			if m.LogGroupCommitRecords.Count == 0 || m.LogGroupCommitRecords.Sum == 0 {
				t.Errorf("no group commit observed: %+v", m.LogGroupCommitRecords)
			}
			if m.LogLogicalBytes <= m0.LogLogicalBytes || m.LogBytes <= m.LogLogicalBytes {
				t.Errorf("log bytes: physical %d, logical %d (before %d): physical must exceed logical (frames, headers)",
					m.LogBytes, m.LogLogicalBytes, m0.LogLogicalBytes)
			}
			if m.CommittedLSN != e.LastLSN() || m.DurableLSN > m.CommittedLSN {
				t.Errorf("committed %d durable %d, last %d", m.CommittedLSN, m.DurableLSN, e.LastLSN())
			}
			for name, h := range map[string]Histogram{"commit": m.CommitDuration, "fsync": m.LogFsyncDuration,
				"group": m.LogGroupCommitRecords, "checkpoint": m.CheckpointDuration} {
				checkHistogram(t, name, h)
			}
			if m.LogFsyncDuration.Bounds[0] != 20e-6 {
				t.Errorf("first fsync bucket %v s, want 20 µs", m.LogFsyncDuration.Bounds[0])
			}

			// Two checkpoints: the oldest retained one covers the log's
			// first segments, which go; OldestRetainedLSN moves past them.
			for i := 0; i < 2; i++ {
				info, err := e.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.Commit(ctx, []Delta{Write(ids[1], 0, []byte{byte(i)})}); err != nil {
					t.Fatal(err)
				}
				m2 := e.Metrics()
				if m2.CheckpointDuration.Count != uint64(i+1) || m2.CheckpointBytes != info.Bytes ||
					m2.CheckpointLastLSN != info.LSN || m2.Checkpoints != uint64(i+1) {
					t.Fatalf("checkpoint %d: %+v (info %+v)", i, m2, info)
				}
			}
			m3 := e.Metrics()
			if m3.OldestRetainedLSN <= 1 {
				t.Fatalf("oldest retained LSN %d after two checkpoints and segment removal", m3.OldestRetainedLSN)
			}
			var first LSN
			if err := e.QueryLog(ctx, LogQuery{}, func(op *LoggedOp) bool { first = op.LSN; return false }); err != nil {
				t.Fatal(err)
			}
			if first != m3.OldestRetainedLSN {
				t.Fatalf("QueryLog starts at %d, OldestRetainedLSN says %d", first, m3.OldestRetainedLSN)
			}
		})
	}
}

func TestMetricsEmptyAndClosed(t *testing.T) {
	e := openT(t, "", &Options{CheckpointBytes: -1})
	m := e.Metrics()
	if m.OldestRetainedLSN != 0 || m.Commits != 0 || m.CommittedLSN != 0 {
		t.Fatalf("empty bus: %+v", m)
	}
	if _, err := e.CreatePage(context.Background(), PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if m := e.Metrics(); m.CommittedLSN != 1 || m.OldestRetainedLSN != 1 {
		t.Fatalf("closed bus: %+v", m)
	}
}

func TestMetricsRecordingAllocFree(t *testing.T) {
	e := openT(t, "", &Options{Sync: SyncNone, CheckpointBytes: -1})
	ctx := context.Background()
	id, err := e.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	ds := []Delta{Write(id, 0, []byte{1, 2, 3})}
	n := testing.AllocsPerRun(200, func() {
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("Commit allocates %v times per call", n)
	}
}
