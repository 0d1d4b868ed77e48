package mmsb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
)

// TestCloseRacesWriters runs Close while every kind of writer is busy on
// an on-disk bus with two apply workers (large batches take the parallel
// and pipelined apply) and automatic checkpoints every few KiB of log:
// Commit (small and large batches), CommitAsync + WaitDurable, explicit
// Checkpoint, CreatePage/FreePage, WaitLSN and a reader. It checks that no
// call panics or hangs, that every call that fails once Close has begun
// fails with ErrClosed, that no goroutine of the bus (apply helpers, log
// flusher, automatic checkpoint) outlives Close, and that everything
// reported committed (or durable) is there after a reopen.
func TestCloseRacesWriters(t *testing.T) {
	dir := t.TempDir()
	baseline := runtime.NumGoroutine()
	o := &Options{Workers: 2, CheckpointBytes: 16 << 10, SegmentBytes: 64 << 10}
	e := openT(t, dir, o)
	const small, large = 4, 32 // pages of the small writers, of the large batches
	ids := mustCreate(t, e, small+large, 64)
	seqOf := func(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
	put := func(id PageID, seq uint64) delta.Delta {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seq)
		return delta.Delta{Page: id, Runs: []delta.Run{{Data: b[:]}}}
	}

	var closing atomic.Bool // set just before Close is called
	errs := make(chan error, 64)
	// stop reports whether a writer should stop on err: nil goes on;
	// ErrClosed stops; anything else, or an error before Close began, is
	// a failure of the test.
	stop := func(what string, err error) bool {
		if err == nil {
			return false
		}
		if !errors.Is(err, ErrClosed) || !closing.Load() {
			errs <- fmt.Errorf("%s: %w (closing %v)", what, err, closing.Load())
		}
		return true
	}
	var acked [small]atomic.Uint64 // per small page: the highest sequence reported committed
	var largeAcked atomic.Uint64   // the highest large batch reported committed
	var lastAcked atomic.Uint64    // the highest LSN reported committed
	ack := func(lsn LSN) {
		for {
			cur := lastAcked.Load()
			if uint64(lsn) <= cur || lastAcked.CompareAndSwap(cur, uint64(lsn)) {
				return
			}
		}
	}
	var mu sync.Mutex // guards created and freed
	created := map[PageID]bool{}
	freed := map[PageID]bool{}
	var progress atomic.Int64 // successful calls, all writers together

	var wg sync.WaitGroup
	run := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	// Small commits, each on its own page: 0 and 1 with Commit, 2 and 3
	// with CommitAsync then WaitDurable.
	for g := 0; g < small; g++ {
		run(func() {
			for seq := uint64(1); ; seq++ {
				ds := []delta.Delta{put(ids[g], seq)}
				var info CommitInfo
				var err error
				if g < 2 {
					info, err = e.Commit(ctx, ds)
				} else if info, err = e.CommitAsync(ctx, ds); err == nil {
					err = e.WaitDurable(ctx, info.LastLSN)
				}
				if stop(fmt.Sprintf("writer %d seq %d", g, seq), err) {
					return
				}
				acked[g].Store(seq)
				ack(info.LastLSN)
				progress.Add(1)
			}
		})
	}
	// Large batches over the large pages (several deltas per page, the
	// last one to a page writing seq): the parallel check and the
	// pipelined apply.
	run(func() {
		ds := make([]delta.Delta, parallelMin+large)
		for seq := uint64(1); ; seq++ {
			for i := range ds {
				ds[i] = put(ids[small+i%large], seq)
			}
			info, err := e.Commit(ctx, ds)
			if stop(fmt.Sprintf("large batch %d", seq), err) {
				return
			}
			largeAcked.Store(seq)
			ack(info.LastLSN)
			progress.Add(1)
		}
	})
	// Explicit checkpoints beside the automatic ones.
	run(func() {
		for {
			_, err := e.Checkpoint(ctx)
			if stop("Checkpoint", err) {
				return
			}
			progress.Add(1)
		}
	})
	// Pages created and freed.
	run(func() {
		for {
			id, err := e.CreatePage(ctx, PageSpec{Size: 32})
			if stop("CreatePage", err) {
				return
			}
			mu.Lock()
			created[id] = true
			mu.Unlock()
			// Refused by Close, the free was not logged (a FreePage logged
			// returns nil, Close or not): the page stays.
			err = e.FreePage(ctx, id)
			if stop("FreePage", err) {
				return
			}
			mu.Lock()
			freed[id] = true
			mu.Unlock()
			progress.Add(1)
		}
	})
	// A follower of the log and a reader.
	run(func() {
		var after LSN
		for {
			lsn, err := e.WaitLSN(ctx, after)
			if stop("WaitLSN", err) {
				return
			}
			after = lsn
		}
	})
	run(func() {
		var buf []byte
		for {
			b, _, err := e.ReadPage(ids[0], buf[:0])
			if stop("ReadPage", err) {
				return
			}
			buf = b
		}
	})

	// Close once every writer has had a chance to run a few times.
	deadline := time.Now().Add(10 * time.Second)
	for progress.Load() < 60 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	closing.Store(true)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("callers still blocked 30 s after Close:\n%s", buf[:runtime.Stack(buf, true)])
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// No goroutine of the bus is left (the callers above have returned).
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > baseline; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			stacks := string(buf[:runtime.Stack(buf, true)])
			t.Fatalf("%d goroutines after Close, %d before Open:\n%s", runtime.NumGoroutine(), baseline, stacks)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Everything reported committed is there after a reopen.
	e = openT(t, dir, &Options{CheckpointBytes: -1})
	defer e.Close()
	if got := e.LastLSN(); uint64(got) < lastAcked.Load() {
		t.Fatalf("reopened at LSN %d, LSN %d was reported committed", got, lastAcked.Load())
	}
	for g := 0; g < small; g++ {
		b, _, err := e.ReadPage(ids[g], nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := seqOf(b), acked[g].Load(); got < want {
			t.Errorf("small page %d holds sequence %d, %d was reported committed", ids[g], got, want)
		}
	}
	for _, id := range ids[small:] {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := seqOf(b), largeAcked.Load(); got < want {
			t.Errorf("large page %d holds batch %d, batch %d was reported committed", id, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id := range created {
		_, err := e.Page(id)
		switch {
		case freed[id] && !errors.Is(err, ErrPageNotFound):
			t.Errorf("page %d, reported freed, after reopen: %v", id, err)
		case !freed[id] && err != nil:
			t.Errorf("page %d, reported created, after reopen: %v", id, err)
		}
	}
	if len(created) == 0 || largeAcked.Load() == 0 {
		t.Logf("little ran before Close: %d pages created, %d large batches", len(created), largeAcked.Load())
	}
}

// TestCancelledContextsCommitWhatIsReported: contexts cancelled while
// commits run (a goroutine cancels each as the commit starts) leave
// exactly the batches reported committed, with one and two workers (large
// batches take the parallel check and the pipelined apply): each batch
// writes a mark of its own, and after a reopen a mark is there if and
// only if its Commit returned no error; a Commit that returned the
// context's error logged nothing. CommitAsync's batches are there whatever
// WaitDurable, cancelled too, returned.
func TestCancelledContextsCommitWhatIsReported(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, &Options{Workers: workers, CheckpointBytes: -1})
			const rounds = 48
			ids := mustCreate(t, e, parallelMin+1, 8*rounds)
			mark := func(id PageID, round int) delta.Delta {
				var b [8]byte
				binary.LittleEndian.PutUint64(b[:], uint64(round+1))
				return delta.Delta{Page: id, Runs: []delta.Run{{Offset: uint32(8 * round), Data: b[:]}}}
			}
			var reported [rounds]bool
			cancelled := 0
			for r := 0; r < rounds; r++ {
				c, cancel := context.WithCancel(context.Background())
				go cancel() // races with the commit below
				var err error
				switch r % 3 {
				case 0: // a large batch: every page but the last
					ds := make([]delta.Delta, parallelMin)
					for i := range ds {
						ds[i] = mark(ids[i], r)
					}
					_, err = e.Commit(c, ds)
				case 1:
					_, err = e.Commit(c, []delta.Delta{mark(ids[parallelMin], r)})
				case 2: // logged and applied once CommitAsync returns
					var info CommitInfo
					if info, err = e.CommitAsync(c, []delta.Delta{mark(ids[parallelMin], r)}); err == nil {
						if werr := e.WaitDurable(c, info.LastLSN); werr != nil && !errors.Is(werr, context.Canceled) {
							t.Fatalf("round %d: WaitDurable: %v", r, werr)
						}
					}
				}
				cancel()
				switch {
				case err == nil:
					reported[r] = true
				case errors.Is(err, context.Canceled):
					cancelled++
				default:
					t.Fatalf("round %d: %v", r, err)
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = openT(t, dir, &Options{CheckpointBytes: -1})
			defer e.Close()
			for r := 0; r < rounds; r++ {
				pages := ids[parallelMin:]
				if r%3 == 0 {
					pages = ids[:parallelMin]
				}
				for _, id := range pages {
					b, _, err := e.ReadPage(id, nil)
					if err != nil {
						t.Fatal(err)
					}
					got := binary.LittleEndian.Uint64(b[8*r:])
					if present := got == uint64(r+1); present != reported[r] || (!present && got != 0) {
						t.Fatalf("round %d, page %d: mark %d after reopen, reported committed %v", r, id, got, reported[r])
					}
				}
			}
			t.Logf("%d of %d commits refused for their cancelled context", cancelled, rounds)
		})
	}
}
