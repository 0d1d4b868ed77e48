package mmsb

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// The live dirty set keeps the order pages were written in; a bus that
// restarts gets it sorted (from a wave op, or a checkpoint's pending
// records). That order reaches nothing the bus logs: given the same
// operations, a bus that restarts (once after a wave whose op names pages
// written while it computed, once from a checkpoint taken with pages dirty)
// logs the same bytes from its first record after the restart on as a bus
// that never restarts, and its waves return the same results.
func TestWaveLogBytesAfterRestartEqualLive(t *testing.T) {
	const now = int64(1_800_000_000_000_000_000) // one clock for both: equal commit times
	clock := func() int64 { return now }
	type bus struct {
		fs    vfs.FS
		e     *Bus
		fns   map[string]RecomputeFunc
		gate  chan struct{} // set: "gate" stops until it is closed
		enter chan struct{}
	}
	newBus := func() *bus {
		b := &bus{fs: vfs.NewMem()}
		b.fns = map[string]RecomputeFunc{
			"sum": func(in [][]byte, _ []byte, out []byte) error {
				var s byte
				for _, p := range in {
					s += p[0]
				}
				out[0] = s
				return nil
			},
			"odd": func(in [][]byte, _ []byte, out []byte) error {
				if in[0][0]%2 == 1 {
					return errors.New("odd input")
				}
				copy(out, in[0])
				return nil
			},
			"gate": func(in [][]byte, _ []byte, out []byte) error {
				if b.gate != nil {
					b.enter <- struct{}{}
					<-b.gate
				}
				copy(out, in[0])
				return nil
			},
		}
		b.e = openT(t, "/bus", &Options{FS: b.fs, CheckpointBytes: -1, Clock: clock, Functions: b.fns})
		return b
	}
	disk, live := newBus(), newBus()
	defer func() { disk.e.Close(); live.e.Close() }()
	both := func(f func(e *Bus) error) {
		t.Helper()
		if errD, errL := f(disk.e), f(live.e); (errD == nil) != (errL == nil) {
			t.Fatalf("bus that restarts: %v; bus that does not: %v", errD, errL)
		}
	}
	commit := func(p PageID, v byte) {
		t.Helper()
		both(func(e *Bus) error {
			_, err := e.Commit(ctx, []delta.Delta{{Page: p, Runs: []delta.Run{{Data: []byte{v}}}}})
			return err
		})
	}
	wave := func(step string) {
		t.Helper()
		var rd, rl PropagateResult
		errD, errL := disk.e.PropagateInto(ctx, &rd), live.e.PropagateInto(ctx, &rl)
		if fmt.Sprint(errD) != fmt.Sprint(errL) || fmt.Sprintf("%+v", rd) != fmt.Sprintf("%+v", rl) {
			t.Fatalf("%s: wave of the bus that restarts %+v, %v; of the one that does not %+v, %v", step, rd, errD, rl, errL)
		}
	}
	restart := func(checkpoint bool) LSN {
		t.Helper()
		if checkpoint {
			if _, err := disk.e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := disk.e.Close(); err != nil {
			t.Fatal(err)
		}
		disk.e = openT(t, "/bus", &Options{FS: disk.fs, CheckpointBytes: -1, Clock: clock, Functions: disk.fns})
		if got, want := disk.e.dirty, []PageID{2, 3, 4}; !slices.Equal(got, want) {
			t.Fatalf("dirty set after the restart %v, want %v", got, want)
		}
		if got, want := live.e.dirty, []PageID{4, 3, 2}; !slices.Equal(got, want) {
			t.Fatalf("dirty set of the bus that does not restart %v, want %v (the order the test is about)", got, want)
		}
		return disk.e.LastLSN()
	}

	// Page 1 feeds only 9 ("gate"); 2, 3, 4 are sources of 5 = 2+3,
	// 6 = odd(4) and 7 = 4+5; 10 is flagged by 2 (Control), 8 by 4
	// (Control) and 6 (GPU-sync): flags raised in the order of the dirty
	// set would come out in another order after a restart.
	both(func(e *Bus) error {
		_, err := e.CreatePages(ctx, slices.Repeat([]PageSpec{{Size: 4}}, 10))
		return err
	})
	for _, b := range []struct {
		c   PageID
		fn  string
		par []PageID
	}{{5, "sum", []PageID{2, 3}}, {6, "odd", []PageID{4}}, {7, "sum", []PageID{4, 5}}, {9, "gate", []PageID{1}}} {
		both(func(e *Bus) error { return e.Bind(ctx, b.c, b.fn, nil, b.par) })
	}
	for _, ed := range []struct {
		p, c PageID
		typ  EdgeType
	}{{2, 10, EdgeControl}, {4, 8, EdgeControl}, {6, 8, EdgeGPUSync}} {
		both(func(e *Bus) error { return e.AddEdge(ctx, ed.p, ed.c, ed.typ) })
	}
	wave("first wave")

	// A wave computes 9 without the lock while 4, 3 and 2 are written (in
	// that order): they stay dirty, the wave op names them sorted.
	commit(1, 7)
	for _, b := range []*bus{disk, live} {
		b.gate, b.enter = make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() { _, err := b.e.Propagate(ctx); done <- err }()
		<-b.enter
		for _, p := range []PageID{4, 3, 2} {
			if _, err := b.e.Commit(ctx, []delta.Delta{{Page: p, Runs: []delta.Run{{Data: []byte{byte(p)}}}}}); err != nil {
				t.Fatal(err)
			}
		}
		close(b.gate)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		b.gate = nil
	}
	from := restart(false) + 1
	steps := func(round int) {
		wave(fmt.Sprintf("round %d: first wave after the restart", round))
		both(func(e *Bus) error { return e.ClearFlags(ctx, 8, 0xff) })
		both(func(e *Bus) error { return e.ClearFlags(ctx, 10, 0xff) })
		commit(4, 5) // odd: 6's function fails, 6 and 7 held back
		commit(2, byte(round))
		wave(fmt.Sprintf("round %d: wave with a failure", round))
		commit(4, 6)
		wave(fmt.Sprintf("round %d: retry", round))
		for _, p := range []PageID{4, 3, 2} {
			commit(p, byte(10*round)+byte(p))
		}
	}
	steps(1)
	restart(true) // pending records, sorted
	steps(2)

	if err := disk.e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := live.e.Close(); err != nil {
		t.Fatal(err)
	}
	dr, lr := logRecordsFrom(t, disk.fs, from), logRecordsFrom(t, live.fs, from)
	if len(dr) < 8 || len(dr) != len(lr) {
		t.Fatalf("%d records from LSN %d in the log of the bus that restarts, %d in the other's; want the same, at least 8", len(dr), from, len(lr))
	}
	for i := range dr {
		if dr[i] != lr[i] {
			t.Fatalf("record %d from LSN %d: %x in the log of the bus that restarts, %x in the other's", i, from, dr[i], lr[i])
		}
	}
}

// logRecordsFrom returns the records of the log in fs's /bus/wal from the
// one starting at LSN from on, each as its first LSN, count and payload.
func logRecordsFrom(t *testing.T, fs vfs.FS, from LSN) []string {
	t.Helper()
	var out []string
	l, _, err := tlog.Open(tlog.Options{FS: fs, Dir: "/bus/wal"}, from, func(r *tlog.Record) error {
		if r.FirstLSN >= from {
			out = append(out, fmt.Sprintf("%d %d %x", r.FirstLSN, r.Count, r.Payload))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
