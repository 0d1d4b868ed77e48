package mmsb

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// A checkpoint taken while commits, frees, metadata and flag changes go on
// holds exactly the state at its LSN (copy on write), and recovery from it
// reaches the live state.
func TestCheckpointWhileCommitting(t *testing.T) {
	withCheckpointWorkers(t, testCheckpointWhileCommitting)
}

// withCheckpointWorkers runs test as a subtest with one apply worker and
// with two, each with a bus at /db in its own in-memory filesystem (the
// test clock, no automatic checkpoint) and the options it was opened
// with, to open it again.
func withCheckpointWorkers(t *testing.T, test func(t *testing.T, e *Bus, opts *Options)) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			opts := &Options{FS: vfs.NewMem(), Clock: testClock(), CheckpointBytes: -1, Workers: workers}
			test(t, openT(t, "/db", opts), opts)
		})
	}
}

func testCheckpointWhileCommitting(t *testing.T, e *Bus, opts *Options) {
	fs := opts.FS
	const pages = 20000
	ids := mustCreate(t, e, pages, 1024)
	for i := 0; i < 40; i++ { // give every page some content
		var ds []delta.Delta
		for j := i; j < pages; j += 40 {
			ds = append(ds, w(ids[j], (j*7)%1000, "seed-content"))
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	var saved atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // the writer: deltas, metadata, frees, creates
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 7))
		live := append([]PageID(nil), ids...)
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			var ds []delta.Delta
			for k := 0; k < 300; k++ {
				d := w(live[rng.IntN(len(live))], rng.IntN(1000), "during")
				switch k % 10 {
				case 3: // masked forms: copy on write keeps the bytes their mask spans
					d, _ = delta.ToMaskedSparse(&d, 1024)
				case 7:
					d, _ = delta.ToMaskedDense(&d, 1024)
				}
				ds = append(ds, d)
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Error(err)
				return
			}
			e.mu.RLock()
			if e.cow != nil {
				saved.Store(int64(e.cow.pages.n))
			}
			e.mu.RUnlock()
			switch n % 4 {
			case 0:
				i := rng.IntN(len(live))
				if err := e.FreePage(ctx, live[i]); err != nil {
					t.Error(err)
					return
				}
				live = append(live[:i], live[i+1:]...)
			case 1:
				if err := e.SetMetadata(ctx, live[rng.IntN(len(live))], []MetaEntry{{Key: "k", Value: []byte{byte(n)}}}); err != nil {
					t.Error(err)
					return
				}
			case 3: // a flag change saves the page without moving its last-write LSN
				if err := e.ClearFlags(ctx, live[rng.IntN(len(live))], FlagStale); err != nil {
					t.Error(err)
					return
				}
			case 2:
				id, err := e.CreatePage(ctx, PageSpec{Size: 1024})
				if err != nil {
					t.Error(err)
					return
				}
				live = append(live, id)
			}
		}
	}()
	info, err := e.Checkpoint(ctx)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checkpoint at LSN %d; %d pages touched under copy on write; bus now at LSN %d", info.LSN, saved.Load(), e.LastLSN())

	checkpointEqualsReplay(t, e, fs, info)
	// Recovery from it reaches the live state.
	hash, lsn := hashOf(t, e), e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if list, _ := checkpoint.List(fs, "/db/checkpoints"); len(list) == 0 {
		t.Fatal("no checkpoint on disk")
	}
	e2 := openT(t, "/db", opts)
	defer e2.Close()
	if e2.Recovery().CheckpointLSN != info.LSN || hashOf(t, e2) != hash || e2.LastLSN() != lsn {
		t.Fatalf("recovery from the checkpoint: LSN %d/%d, checkpoint %d, hash equal %v", e2.LastLSN(), lsn, e2.Recovery().CheckpointLSN, hashOf(t, e2) == hash)
	}
}

// Automatic checkpoints run in the background. Close stops a running one
// (TestCloseStopsRunningCheckpoint): the test waits for it to end first.
func TestAutomaticCheckpointInBackground(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/db", &Options{FS: fs, CheckpointBytes: 8 << 10})
	ids := mustCreate(t, e, 64, 4096)
	for i := 0; i < 400; i++ {
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[i%64], 0, "0123456789abcdef0123456789abcdef0123456789abcdef")}); err != nil {
			t.Fatal(err)
		}
	}
	hash := hashOf(t, e)
	for deadline := time.Now().Add(livenessBound); e.CheckpointRunning(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the automatic checkpoint never ended")
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	list, err := checkpoint.List(fs, "/db/checkpoints")
	if err != nil || len(list) == 0 {
		t.Fatalf("no automatic checkpoint: %v", err)
	}
	e2 := openT(t, "/db", &Options{FS: fs})
	defer e2.Close()
	if hashOf(t, e2) != hash {
		t.Fatal("state after reopen differs")
	}
}

// blockingCreateFS holds the creation of a checkpoint file until release
// is closed, so that a test can look at the bus while a checkpoint runs.
type blockingCreateFS struct {
	vfs.FS
	entered chan struct{}
	release chan struct{}
}

func (f *blockingCreateFS) Create(name string) (vfs.File, error) {
	if strings.Contains(name, "checkpoints/checkpoint-") { // not checkpoints/log-mode, which Open writes
		f.entered <- struct{}{}
		<-f.release
	}
	return f.FS.Create(name)
}

// CheckpointRunning is true exactly while a checkpoint is being taken.
func TestCheckpointRunning(t *testing.T) {
	fs := &blockingCreateFS{FS: vfs.NewMem(), entered: make(chan struct{}), release: make(chan struct{})}
	e := openT(t, "/db", &Options{FS: fs, CheckpointBytes: -1})
	defer e.Close()
	mustCreate(t, e, 4, 64)
	if e.CheckpointRunning() {
		t.Fatal("running before any checkpoint")
	}
	done := make(chan error, 1)
	go func() { _, err := e.Checkpoint(ctx); done <- err }()
	<-fs.entered
	if !e.CheckpointRunning() {
		t.Fatal("not running while the checkpoint file is being created")
	}
	close(fs.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if e.CheckpointRunning() {
		t.Fatal("still running after Checkpoint returned")
	}
}

// An automatic checkpoint is running (CheckpointRunning) from the commit
// that starts it: here its goroutine is held before it can take the
// checkpoint lock, so nothing of the snapshot has begun; it is running
// still, and no longer once it has ended.
func TestCheckpointRunningAutomatic(t *testing.T) {
	e := openT(t, "", &Options{CheckpointBytes: 1})
	defer e.Close()
	ids := mustCreate(t, e, 4, 64)
	for e.CheckpointRunning() { // the creation's own checkpoint
		time.Sleep(time.Millisecond)
	}
	before := e.Stats().Checkpoints
	e.ckptMu.Lock()
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "x")}); err != nil {
		e.ckptMu.Unlock()
		t.Fatal(err)
	}
	running := e.CheckpointRunning()
	e.ckptMu.Unlock()
	if !running {
		t.Fatal("not running after the commit that started an automatic checkpoint")
	}
	for e.CheckpointRunning() {
		time.Sleep(time.Millisecond)
	}
	if got := e.Stats().Checkpoints; got != before+1 {
		t.Fatalf("%d checkpoints once it stopped running, want %d", got, before+1)
	}
}

// With automatic checkpoints on, page creation sizes the checkpoint
// scratch (ckptScratch.reserve), so that a checkpoint does not fault it in
// while commits wait on the disk, and the checkpoint then reuses it as it
// is. Without them nothing is reserved until a checkpoint is asked for.
func TestCheckpointScratchReservedAtCreation(t *testing.T) {
	const pages = 5000
	for _, auto := range []bool{true, false} {
		t.Run(fmt.Sprintf("auto=%v", auto), func(t *testing.T) {
			opts := &Options{FS: vfs.NewMem(), Clock: testClock()}
			if !auto {
				opts.CheckpointBytes = -1
			}
			e := openT(t, "/db", opts)
			ids := mustCreate(t, e, pages, 64)
			s := &e.ckptScratch
			reserved := cap(s.ids) >= pages && len(s.dense) > int(ids[len(ids)-1]) &&
				cap(s.stage) >= pages*64 && len(s.imgs) >= min(ckptRangePages, pages)
			if reserved != auto {
				t.Fatalf("scratch after creating %d pages: ids cap %d, dense %d (last ID %d), stage cap %d, imgs %d: reserved %v, want %v",
					pages, cap(s.ids), len(s.dense), ids[len(ids)-1], cap(s.stage), len(s.imgs), reserved, auto)
			}
			if !auto {
				return
			}
			idsBefore, denseBefore := &s.ids[:1][0], &s.dense[0]
			if _, err := e.Checkpoint(t.Context()); err != nil {
				t.Fatal(err)
			}
			if &s.ids[:1][0] != idsBefore || &s.dense[0] != denseBefore {
				t.Fatal("the checkpoint reallocated the scratch that page creation reserved")
			}
		})
	}
}

// Copy on write's full-size blocks go back to the pool when a checkpoint
// ends (cowBlocks.recycle), up to the pool's capacity, and the others are
// returned for the next checkpoint's spare, which is used first; smaller
// blocks are dropped.
func TestCowBlocksRecycle(t *testing.T) {
	pool := make(cowBlockPool, cowPoolBlocks)
	for range cowPoolBlocks {
		pool <- make([]byte, 0, cowBlockBytes)
	}
	bl := cowBlocks{pool: pool, spare: [][]byte{make([]byte, 0, cowBlockBytes)}}
	chunk := make([]byte, 64<<10)
	var kept int
	for kept < (cowPoolBlocks+3)*cowBlockBytes {
		bl.copy(chunk)
		kept += len(chunk)
	}
	if len(bl.full) < cowPoolBlocks+1 {
		t.Fatalf("%d full blocks after keeping %d bytes", len(bl.full), kept)
	}
	if len(bl.spare) != 0 {
		t.Fatalf("%d spare blocks left unused", len(bl.spare))
	}
	spare := bl.recycle()
	if len(spare) != 1 || cap(spare[0]) != cowBlockBytes || len(spare[0]) != 0 {
		t.Fatalf("recycle returned %d spare blocks, want 1 of %d bytes", len(spare), cowBlockBytes)
	}
	if len(pool) != cowPoolBlocks {
		t.Fatalf("pool holds %d blocks after recycling, want %d", len(pool), cowPoolBlocks)
	}
	for range cowPoolBlocks {
		b := <-pool
		if len(b) != 0 || cap(b) != cowBlockBytes {
			t.Fatalf("recycled block len %d cap %d, want 0 and %d", len(b), cap(b), cowBlockBytes)
		}
	}
	if bl.cur != nil || bl.full != nil || bl.spare != nil {
		t.Fatal("recycled blocks still held by the finished checkpoint")
	}
}

// TestCowBlockMiss: a commit that finds a bus's block pool empty allocates
// a small block, never a 4 MiB one (whose zeroing faulted 1,024 pages in
// on the commit's path: 17 ms traced); a bus too small for a pool keeps
// the doubling sizes. The negative control, the old take, fails the first
// case.
func TestCowBlockMiss(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool cowBlockPool
		want int
	}{
		{"empty pool", make(cowBlockPool, cowPoolBlocks), cowMissBytes},
		{"no pool", nil, cowBlockBytes},
	} {
		if b := tc.pool.take(cowBlockBytes); len(b) != 0 || cap(b) != tc.want {
			t.Errorf("%s: took a block of len %d cap %d, want 0 and %d", tc.name, len(b), cap(b), tc.want)
		}
	}
}

// TestChunkedRelease: the chunks a checkpoint's copy on write records
// used are handed to the next checkpoint's (chunked.release), zeroed, and
// used before any new chunk is allocated. The negative control, release
// without clearing, fails it (a record of the earlier checkpoint shows).
func TestChunkedRelease(t *testing.T) {
	var a chunked[cowUndo]
	for range chunkLen + 10 { // two chunks, the second partly used
		k := a.add()
		*a.at(k) = cowUndo{prev: 7, off: 9, n: 4, big: 3, data: [cowInline]byte{'k', 'e', 'p', 't'}}
	}
	first := &a.chunks[0][0]
	spare := a.release()
	if len(spare) != 2 || a.n != 0 || a.chunks != nil {
		t.Fatalf("release returned %d chunks and left n=%d, %d chunks", len(spare), a.n, len(a.chunks))
	}
	b := chunked[cowUndo]{spare: spare}
	var reused bool
	for range 2*chunkLen + 1 { // the two kept chunks, then a new one
		k := b.add()
		if u := b.at(k); *u != (cowUndo{}) {
			t.Fatalf("element %d of a reused chunk is not zero: %+v", k, *u)
		}
		reused = reused || b.at(k) == first
	}
	if !reused || len(b.spare) != 0 || len(b.chunks) != 3 {
		t.Fatalf("kept chunks reused %v, %d left spare, %d chunks", reused, len(b.spare), len(b.chunks))
	}
}

// TestCheckpointPaced: Options.CheckpointWriteRate holds a checkpoint of a
// bus in a directory to its rate (Stats.CheckpointPaced counts the sleep)
// and changes nothing in the file: the same state checkpointed at 1 MiB/s
// and unpaced gives the same bytes. An in-memory bus is never paced.
// Controls: the unpaced bus (-1) must show no sleep, and a paced one
// must; SetRate not called for a directory fails the second, a writer
// that drops or reorders a buffer while sleeping fails the byte
// comparison.
func TestCheckpointPaced(t *testing.T) {
	const pages, size = 900, 1024 // ~0.9 MB: more than three buffers of 256 KiB
	checkpoint := func(dir string, rate int64) ([]byte, time.Duration) {
		fs := vfs.NewMem()
		e := openT(t, dir, &Options{FS: fs, Clock: testClock(), CheckpointBytes: -1, CheckpointWriteRate: rate})
		ids := mustCreate(t, e, pages, size)
		// Whole pages of varied bytes: zeros would encode small.
		rng := rand.New(rand.NewPCG(1, 2))
		ds := make([]Delta, len(ids))
		for i, id := range ids {
			data := make([]byte, size)
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
			ds[i] = Delta{Page: id, Runs: []Run{{Data: data}}}
		}
		if _, err := e.Commit(t.Context(), ds); err != nil {
			t.Fatal(err)
		}
		info, err := e.Checkpoint(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		paced := e.Stats().CheckpointPaced
		if dir == "" {
			return nil, paced
		}
		f, err := fs.Open(info.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return b, paced
	}
	fast, fastPaced := checkpoint("/db", -1)
	slow, slowPaced := checkpoint("/db", 1<<20)
	if fastPaced != 0 || slowPaced <= 0 {
		t.Fatalf("paced %v unlimited, %v at 1 MiB/s (checkpoint of %d bytes)", fastPaced, slowPaced, len(fast))
	}
	if len(fast) < 3*256<<10 || !bytes.Equal(fast, slow) {
		t.Fatalf("checkpoint of %d bytes unpaced and %d paced, equal %v", len(fast), len(slow), bytes.Equal(fast, slow))
	}
	if _, paced := checkpoint("", 1<<20); paced != 0 {
		t.Fatalf("an in-memory bus's checkpoint paced %v", paced)
	}
}

// TestCheckpointChangesBetweenSteps changes pages of the range being
// written between its first step (scalars, read live) and its third (the
// roll back, outside the lock): a delta, then a free of that page and a
// new page that may take its memory; a delta then metadata on another; a
// delta alone on a third. The checkpoint must still equal the state at
// its LSN. Controls (by hand): step 3 ignoring a page kept whole since
// step 1 fails on the freed page; skipping the partial roll back fails
// on the deltas.
func TestCheckpointChangesBetweenSteps(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/db", &Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	ids := mustCreate(t, e, 3000, 1024)
	for i := range ids {
		if _, err := e.Commit(ctx, []delta.Delta{w(ids[i], (i*13)%1000, "seed-content")}); err != nil {
			t.Fatal(err)
		}
	}
	var hookErr error
	calls := 0
	e.ckptAfterStep1 = func() {
		calls++
		if calls != 1 || hookErr != nil {
			return
		}
		// ids[5..7] are in the first range (1,024 pages of 1 KiB).
		step := func(err error) {
			if hookErr == nil && err != nil {
				hookErr = err
			}
		}
		_, err := e.Commit(ctx, []delta.Delta{w(ids[5], 0, "changed-then-freed"), w(ids[6], 100, "changed"), w(ids[7], 200, "changed")})
		step(err)
		step(e.FreePage(ctx, ids[5]))
		_, err = e.CreatePage(ctx, PageSpec{Size: 1024})
		step(err)
		step(e.SetMetadata(ctx, ids[6], []MetaEntry{{Key: "k", Value: []byte("v")}}))
		_, err = e.Commit(ctx, []delta.Delta{w(ids[7], 300, "again")})
		step(err)
	}
	before := e.LastLSN()
	info, err := e.Checkpoint(ctx)
	e.ckptAfterStep1 = nil
	if err != nil {
		t.Fatal(err)
	}
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	if calls < 3 || info.LSN != before || e.LastLSN() <= before {
		t.Fatalf("hook ran %d times (want a call per range, 3 or more); checkpoint LSN %d, before %d, now %d", calls, info.LSN, before, e.LastLSN())
	}
	checkpointEqualsReplay(t, e, fs, info)
}

// checkpointEqualsReplay fails t unless the checkpoint info of bus e (log
// in fs at /db) equals a replay of the log up to its LSN.
func checkpointEqualsReplay(t *testing.T, e *Bus, fs vfs.FS, info CheckpointInfo) {
	t.Helper()
	fromCkpt := newDetached(nil, false)
	defer fromCkpt.Close()
	if err := fromCkpt.loadCheckpointFrom(fs, info.Path); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	replayed, err := Replay(ctx, "/db", ReplayTarget{ToLSN: info.LSN, FromEmpty: true}, &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer replayed.Close()
	if rep := compareStates(replayed, fromCkpt); !rep.Equal() {
		t.Fatalf("checkpoint differs from the state at its LSN: %v", rep.Differences)
	}
}
