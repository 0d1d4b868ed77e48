package mmsb_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestSharedReattach: a writer child is SIGKILLed mid-run and the bus is
// recovered by a new writer. A Reader opened with Reattach reports the
// writer gone meanwhile, then follows the new generation and reads the
// recovered state (equal to the bus's pages); one that noticed nothing
// (liveness checks off) reattaches from ErrStale. A Reader without
// Reattach (the control) keeps failing.
func TestSharedReattach(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	w := startChild(t, childRun, "writer", dir, shm, time.Hour)
	if _, err := w.expect("PROGRESS", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	open := func(o mmsb.ReaderOptions) *mmsb.Reader {
		o.SharedDir = shm
		rd, err := mmsb.OpenReader(dir, &o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		return rd
	}
	follow := open(mmsb.ReaderOptions{Reattach: true})
	blind := open(mmsb.ReaderOptions{Reattach: true, LivenessInterval: time.Hour})
	control := open(mmsb.ReaderOptions{})
	oldGen := follow.Stats().Generation
	// Another goroutine reads through follow the whole time, mostly on the
	// lock-free path, so that the kill, the reattach and the release of
	// the old region's mappings all happen under its reads: no fault, no
	// torn page, only the errors a dead or replaced writer explains.
	ids, err := follow.Pages()
	if err != nil || len(ids) == 0 {
		t.Fatalf("pages before the kill: %d, %v", len(ids), err)
	}
	stopReads, readsDone := make(chan struct{}), make(chan int)
	go func() {
		good := 0
		defer func() { readsDone <- good }()
		buf := make([]byte, 0, 1024)
		for i := 0; ; i++ {
			select {
			case <-stopReads:
				return
			default:
			}
			b, _, _, err := follow.ReadPage(ids[i%len(ids)], buf)
			switch {
			case err == nil:
				if tornAt(b) >= 0 {
					t.Errorf("concurrent reader: torn page %d", ids[i%len(ids)])
					return
				}
				good++
			case errors.Is(err, mmsb.ErrWriterGone), errors.Is(err, mmsb.ErrStale), errors.Is(err, mmsb.ErrPageNotFound):
			default:
				t.Errorf("concurrent reader: %v", err)
				return
			}
		}
	}()
	defer func() {
		close(stopReads)
		if good := <-readsDone; good == 0 {
			t.Error("the concurrent reader read nothing")
		}
	}()
	if st, err := tortureRead(follow, 50*time.Millisecond); err != nil || st.torn != 0 {
		t.Fatalf("before the kill: %v %v", st, err)
	}
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = w.wait()
	for _, rd := range []*mmsb.Reader{follow, control} {
		// Bounded by LivenessInterval (10ms); 10s only guards a hang.
		if st, err := tortureRead(rd, 10*time.Second); !errors.Is(err, mmsb.ErrWriterGone) || st.torn != 0 {
			t.Fatalf("no writer: %v (%v), want ErrWriterGone", err, st)
		}
	}

	bus := openShared(t, dir, shm) // recovery: a new generation
	defer bus.Close()
	pages, err := bus.Pages()
	if err != nil || len(pages) == 0 {
		t.Fatalf("recovered bus: %d pages, %v", len(pages), err)
	}
	for _, c := range []struct {
		name string
		rd   *mmsb.Reader
	}{{"follow", follow}, {"blind", blind}} {
		name, rd := c.name, c.rd
		var got []mmsb.PageID
		deadline := time.Now().Add(10 * time.Second)
		for got, err = rd.Pages(); err != nil && time.Now().Before(deadline); got, err = rd.Pages() {
			time.Sleep(time.Millisecond) // attempts are rate-limited
		}
		if err != nil || len(got) != len(pages) {
			t.Fatalf("%s after recovery: %d pages (bus %d), %v", name, len(got), len(pages), err)
		}
		st := rd.Stats()
		if st.Reattaches != 1 || st.Generation == oldGen {
			t.Fatalf("%s: %+v (old generation %d)", name, st, oldGen)
		}
		if l := rd.LastLSN(); l != bus.LastLSN() {
			t.Fatalf("%s: committed LSN %d, bus %d", name, l, bus.LastLSN())
		}
		for _, p := range pages {
			want, wep, _ := bus.ReadPage(p.ID, nil)
			b, ep, _, err := rd.ReadPage(p.ID, nil)
			if err != nil || ep != wep || string(b) != string(want) {
				t.Fatalf("%s: page %d: epoch %d (bus %d), %v", name, p.ID, ep, wep, err)
			}
		}
	}
	if _, err := control.Pages(); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("control reader without Reattach after recovery: %v", err)
	}
	// The recovered bus keeps committing; the reattached reader follows.
	id := pages[0].ID
	info, err := bus.Commit(t.Context(), []mmsb.Delta{mmsb.Write(id, 0, uniformPage(1024, 1<<40))})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := follow.Wait(t.Context(), info.LastLSN-1); err != nil || l < info.LastLSN {
		t.Fatalf("Wait after reattach: %d %v", l, err)
	}
	if b, _, lsn, err := follow.ReadPage(id, nil); err != nil || lsn != info.LastLSN || tornAt(b) >= 0 {
		t.Fatalf("read after reattach: lsn %d (commit %d) %v", lsn, info.LastLSN, err)
	}
}
