package mmsb

import (
	"runtime/metrics"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// livenessBound turns a deadlock into a test failure with a message instead
// of a hang to the global timeout. It bounds waiting for something that
// must happen, it does not measure anything.
const livenessBound = 30 * time.Second

// TestStatsDuringCheckpoint pins issue 7 item 9 (Stats and ckptMu): Stats
// returns, with current figures, while a checkpoint is stuck in the middle
// of writing its file. The old Stats took ckptMu, which a checkpoint holds
// for its whole duration, so a metrics poller stalled behind every
// checkpoint.
func TestStatsDuringCheckpoint(t *testing.T) {
	stuck, release := make(chan struct{}), make(chan struct{})
	block := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpWrite {
			select {
			case <-stuck:
			default:
				close(stuck)
				<-release
			}
		}
		return nil
	})
	e := openT(t, "/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), errorfs.OnPath(".ckpt.tmp", block)), Clock: testClock(), CheckpointBytes: -1})
	if _, err := e.CreatePage(ctx, PageSpec{Size: 64}); err != nil {
		t.Fatal(err)
	}
	ckpt := make(chan error, 1)
	go func() { _, err := e.Checkpoint(ctx); ckpt <- err }()
	<-stuck // the checkpoint holds ckptMu, blocked in its first write
	got := make(chan Stats, 1)
	go func() { got <- e.Stats() }()
	select {
	case st := <-got:
		if st.Pages != 1 || st.Checkpoints != 0 {
			t.Errorf("Stats during a checkpoint: %d pages, %d checkpoints; want 1, 0", st.Pages, st.Checkpoints)
		}
	case <-time.After(livenessBound):
		t.Error("Stats waited for the running checkpoint")
	}
	close(release)
	if err := <-ckpt; err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Checkpoints != 1 {
		t.Fatalf("after the checkpoint: %d checkpoints", st.Checkpoints)
	}
}

// stopTheWorldPauses counts the runtime's non-GC stop-the-world pauses so
// far (runtime.ReadMemStats is one of them).
func stopTheWorldPauses(t *testing.T) uint64 {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		testutil.Missing(t, "runtime does not report stop-the-world pauses")
	}
	var n uint64
	for _, c := range s[0].Value.Float64Histogram().Counts {
		n += c
	}
	return n
}

// TestStatsDoesNotStopTheWorld pins issue 7 item 9 (Stats and
// runtime.ReadMemStats): Stats reads the heap size from runtime/metrics, so
// polling it does not stop the world. The old Stats stopped it on every
// call (100 calls, 100 pauses); nothing else in this test stops it.
func TestStatsDoesNotStopTheWorld(t *testing.T) {
	e := openT(t, "", &Options{Clock: testClock(), CheckpointBytes: -1})
	const calls = 100
	before := stopTheWorldPauses(t)
	var heap uint64
	for i := 0; i < calls; i++ {
		heap = max(heap, e.Stats().HeapBytes)
	}
	if pauses := stopTheWorldPauses(t) - before; pauses >= calls {
		t.Fatalf("%d calls to Stats stopped the world %d times", calls, pauses)
	}
	if heap == 0 {
		t.Fatal("Stats reports no heap in use")
	}
}

// TestDirectPages: pages created in ID order, of one size, are reached by
// the commit path without an index entry or a cell load
// (Store.DirectPages), and stay so after recovery, from a checkpoint and
// from the log alone; a free cuts the prefix to the pages below, and a
// page of another size does not join it.
func TestDirectPages(t *testing.T) {
	for _, ckpt := range []bool{false, true} {
		fs := vfs.NewMem()
		e := openT(t, "/db", &Options{FS: fs, CheckpointBytes: -1})
		ids := mustCreate(t, e, 5000, 1024) // more than one 4 MiB chunk of cells
		if _, err := e.Commit(ctx, []Delta{w(ids[10], 0, "x"), w(ids[4999], 8, "y")}); err != nil {
			t.Fatal(err)
		}
		if got := e.Stats().Store.DirectPages; got != 5000 {
			t.Fatalf("DirectPages %d after creating 5000 pages in order, want 5000", got)
		}
		if ckpt {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want := hashOf(t, e)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openT(t, "/db", &Options{FS: fs, CheckpointBytes: -1})
		if got := e.Stats().Store.DirectPages; got != 5000 || hashOf(t, e) != want {
			t.Fatalf("recovered (from a checkpoint: %v): DirectPages %d, want 5000; state hash equal: %v", ckpt, got, hashOf(t, e) == want)
		}
		if err := e.FreePage(ctx, ids[2500]); err != nil {
			t.Fatal(err)
		}
		if got := e.Stats().Store.DirectPages; got != 2500 {
			t.Fatalf("DirectPages %d after freeing page %d, want 2500", got, ids[2500])
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	e := openMem(t, nil)
	mustCreate(t, e, 10, 64)
	mustCreate(t, e, 1, 72)
	mustCreate(t, e, 1, 64)
	if got := e.Stats().Store.DirectPages; got != 10 {
		t.Fatalf("DirectPages %d after ten 64-byte pages, one of 72 and one of 64; want 10", got)
	}
}
