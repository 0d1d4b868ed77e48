package mmsb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb/internal/page"
)

// ReaderOptions configures OpenReader. The zero value is usable: a zero
// or negative duration or count takes its default.
type ReaderOptions struct {
	// SharedDir is the tmpfs directory the writer's Options.SharedDir
	// named (default DefaultSharedDir).
	SharedDir string
	// WriterTimeout bounds how long a read waits on a page whose sequence
	// word stays odd and unchanged (a writer stopped or killed mid-write)
	// before failing with ErrWriterGone (default 200ms).
	WriterTimeout time.Duration
	// LivenessInterval is how often a background goroutine checks that the
	// writer process still exists (default 10ms). A dead writer is
	// reported as ErrWriterGone within about this long.
	LivenessInterval time.Duration
	// SnapshotRetries bounds Snapshot's attempts (default 100).
	SnapshotRetries int
	// WaitSpin is how long Wait polls the committed LSN without sleeping
	// before it backs off to sleeps (default 50µs; larger values trade CPU
	// for wake-up latency).
	WaitSpin time.Duration
	// Reattach makes the Reader follow the bus across writer restarts:
	// when its region was superseded (a new writer recovered the bus) or
	// its writer is gone, the next ReadPage, View, Pages, Wait or
	// Snapshot maps the region the bus has now, if it has a new
	// generation and a live writer, and carries on there (counted in
	// ReaderStats.Reattaches). Without it such calls fail with ErrStale
	// or ErrWriterGone until the Reader is reopened. Calls still fail
	// with ErrWriterGone while no new writer has published; attempts are
	// at most one per LivenessInterval (or 10ms if shorter). After a
	// reattach, LastLSN may be lower than before: commits the old writer
	// had not made durable are not in the recovered state.
	Reattach bool
}

func (o *ReaderOptions) withDefaults() ReaderOptions {
	r := ReaderOptions{}
	if o != nil {
		r = *o
	}
	if r.WriterTimeout <= 0 {
		r.WriterTimeout = 200 * time.Millisecond
	}
	if r.LivenessInterval <= 0 {
		r.LivenessInterval = 10 * time.Millisecond
	}
	if r.SnapshotRetries <= 0 {
		r.SnapshotRetries = 100
	}
	if r.WaitSpin <= 0 {
		r.WaitSpin = 50 * time.Microsecond
	}
	return r
}

// Reader reads a bus's committed pages from the shared memory of a writer
// that runs with Options.Shared, in another process (or the same one). It
// maps everything read-only and writes nothing shared, so a reader that
// crashes or stops affects neither the writer nor other readers. Its
// methods are safe for concurrent use. ReadPage and View of a live page
// whose index and mappings are current take no lock (so goroutines read
// in parallel, and a Close racing with them is safe); everything else is
// serialised by the Reader's mutex.
//
// Readers see the latest committed state, not a history: older versions
// are read from the log (Bus.ReadPageAt) by the writer.
//
// A closed Reader keeps its address ranges reserved (zero pages, no
// memory) for the life of the process, so that a read racing with Close
// never touches an unmapped address.
type Reader struct {
	mu     sync.Mutex
	a      *attachment                // the region mapped now; replaced by a reattach
	cur    atomic.Pointer[attachment] // a, for the lock-free path; nil once closed
	path   string                     // the bus's region directory
	owner  int                        // the uid that owns the bus directory, so must own the region
	opts   ReaderOptions
	closed bool

	nextReattach time.Time // rate limit of reattach attempts

	retries     atomic.Uint64 // read attempts that failed the sequence check
	snapRetries atomic.Uint64 // Snapshot attempts discarded
	reattaches  atomic.Uint64 // regions of new generations attached

	waitSleeping func() // tests: called before each of Wait's sleeps
}

// attachment is one mapped region and the goroutine that watches its
// writer. It is replaced as a whole, so the liveness goroutine never
// touches a region after it was unmapped.
type attachment struct {
	r    *page.ShmReader // its Gone is set by the liveness goroutine
	stop chan struct{}
	done chan struct{}
}

// ReaderStats are the reader-side metrics (docs/shm.md).
type ReaderStats struct {
	Generation      uint64 // the shared region's generation
	WriterPID       int    // the writer process
	Retries         uint64 // page reads retried because the page changed under them
	SnapshotRetries uint64 // Snapshot attempts discarded because a page moved past the LSN
	Reattaches      uint64 // regions of newer generations attached (ReaderOptions.Reattach)
}

// OpenReader attaches to the shared region of the bus in dir. It fails
// with ErrWriterGone when no writer has published one (none runs in shared
// mode), ErrStale when the region found was just superseded, and
// ErrSharedCorrupt when it fails its checks, among them that the region
// belongs to the owner of dir (docs/shm.md#security-what-a-reader-trusts),
// and ErrInvalidOption when dir is empty or not a directory, or
// ReaderOptions.SharedDir does not exist or is not a directory.
func OpenReader(dir string, opts *ReaderOptions) (*Reader, error) {
	o := opts.withDefaults()
	path, err := SharedRegionPath(dir, o.SharedDir)
	if err != nil {
		return nil, err
	}
	owner, err := busOwner(dir)
	if err != nil {
		return nil, err
	}
	if err := readerSharedDir(path); err != nil {
		return nil, err
	}
	a, err := attach(dir, path, owner, o.LivenessInterval)
	if err != nil {
		return nil, err
	}
	rd := &Reader{a: a, path: path, owner: owner, opts: o}
	rd.cur.Store(a)
	return rd, nil
}

// errReaderClosed is what a closed Reader's calls return: ErrClosed for
// errors.Is, but saying that the Reader is closed (the bus's "bus closed"
// would be wrong: the writer may well be running). tick's orchestrator
// does the same.
var errReaderClosed error = readerClosedError{}

type readerClosedError struct{}

func (readerClosedError) Error() string { return "mmsb: reader closed" }
func (readerClosedError) Unwrap() error { return ErrClosed }

// busOwner returns the uid that owns the bus directory dir (symbolic
// links followed, as SharedRegionPath follows them): the region's name is
// derived from dir and can be created by anyone, so only a region that
// this uid owns is trusted (docs/shm.md#security-what-a-reader-trusts).
func busOwner(dir string) (int, error) {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w: the bus directory %s does not exist: %w", ErrWriterGone, dir, err)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: cannot check the owner of the bus directory, which must own its region: %w", ErrSharedCorrupt, err)
	}
	// A file is a mistake of the caller's: it was ErrWriterGone "no
	// shared region", which callers retry for ever (TestReaderConfigurationMistakes).
	if !fi.IsDir() {
		return 0, fmt.Errorf("%w: the bus directory %s is not a directory (mode %v)", ErrInvalidOption, dir, fi.Mode())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%w: bus directory %s: no owner to check", ErrSharedCorrupt, dir)
	}
	return int(st.Uid), nil
}

// readerSharedDir refuses, with ErrInvalidOption naming it, a
// ReaderOptions.SharedDir (the directory that holds region) that does not
// exist or is not a directory, as Open refuses the same Options.SharedDir:
// a missing one was ErrWriterGone, retried for ever, and a file a bare
// "lstat ...: not a directory". Other failures (no permission) are left to
// the region's own open, which reports them.
func readerSharedDir(region string) error {
	parent := filepath.Dir(region)
	fi, err := os.Stat(parent)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: SharedDir %s does not exist", ErrInvalidOption, parent)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: SharedDir %s is not a directory (a file is on its path)", ErrInvalidOption, parent)
	case err != nil:
		return nil
	case !fi.IsDir():
		return fmt.Errorf("%w: SharedDir %s is not a directory (mode %v)", ErrInvalidOption, parent, fi.Mode())
	}
	return nil
}

// attach maps the region in path, which owner must own, and starts
// watching its writer.
func attach(dir, path string, owner int, every time.Duration) (*attachment, error) {
	sr, err := page.OpenShmReaderOwned(path, owner)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: no shared region for %s (no writer runs with Options.Shared): %w", ErrWriterGone, dir, err)
		}
		return nil, fmt.Errorf("mmsb: open reader for %s: %w", dir, err)
	}
	if err := sr.Alive(); err != nil {
		_ = sr.Discard() // not handed out: see page.ShmReader.Discard
		return nil, err
	}
	a := &attachment{r: sr, stop: make(chan struct{}), done: make(chan struct{})}
	go a.watch(every)
	return a, nil
}

// watch checks the writer's liveness every interval until the writer is
// gone or the attachment is closed.
//
// A panic out of the check (a defect of the bus's own code) ended the
// reader's whole process from this goroutine. It is recorded as a failed
// check is (SetGone): the reader can no longer tell whether the writer
// lives, so its reads answer ErrWriterGone naming the panic, and a
// Reattach reader tries a fresh attachment (TestReaderWatchPanicIsGone).
func (a *attachment) watch(every time.Duration) {
	defer close(a.done)
	defer func() {
		if v := recover(); v != nil {
			a.r.SetGone(fmt.Errorf("%w: cannot tell whether the writer lives: the reader's liveness check panicked (a defect): %v", ErrWriterGone, v))
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			if h := watchHook.Load(); h != nil {
				(*h)()
			}
			if err := a.r.Alive(); err != nil {
				a.r.SetGone(err)
				return
			}
		}
	}
}

// watchHook, set by tests, runs in watch before each liveness check (to
// panic there).
var watchHook atomic.Pointer[func()]

// err returns the writer's failure, if known. The state word is read on
// every call (a clean close or a new generation is seen at once); the
// process check runs in watch.
func (a *attachment) err() error {
	if err := a.r.Gone(); err != nil {
		return err
	}
	if a.r.State() != page.ShmLive {
		return a.r.Alive()
	}
	return nil
}

// close stops the watcher, then releases the region.
func (a *attachment) close() error {
	close(a.stop)
	<-a.done
	return a.r.Close()
}

// discard is close for an attachment never published in Reader.cur (no
// lock-free read can be inside it). Its ranges go to the pool of spare
// ranges as a closed one's do (page.ShmReader.Discard), for the next
// attempt to reuse.
func (a *attachment) discard() error {
	close(a.stop)
	<-a.done
	return a.r.Discard()
}

// reattachEvery caps the interval between reattach attempts.
const reattachEvery = 10 * time.Millisecond

// check returns the writer's failure, if known, after trying to reattach
// when ReaderOptions.Reattach asks for it. Caller holds rd.mu.
func (rd *Reader) check() error {
	if rd.closed {
		return errReaderClosed
	}
	err := rd.a.err()
	if err == nil || !rd.opts.Reattach {
		return err
	}
	now := time.Now()
	if now.Before(rd.nextReattach) {
		return err
	}
	rd.nextReattach = now.Add(min(rd.opts.LivenessInterval, reattachEvery))
	a, aerr := attach(rd.path, rd.path, rd.owner, rd.opts.LivenessInterval)
	if aerr != nil {
		return err // no new writer yet: report the old one's failure
	}
	// The same region when generation, writer process and its start time
	// agree: a generation alone repeats when two writer processes read
	// the same clock value (a clock that stood still).
	if a.r.Gen() == rd.a.r.Gen() && a.r.PID() == rd.a.r.PID() && a.r.Start() == rd.a.r.Start() {
		_ = a.discard()
		return err
	}
	rd.cur.Store(a)
	_ = rd.a.close() // read-only mappings: nothing to flush
	rd.a = a
	rd.reattaches.Add(1)
	return nil
}

// read reads page id consistently, calling fn on its bytes (possibly
// several times; only the last call saw a consistent page). Caller holds
// rd.mu.
func (rd *Reader) read(id PageID, fn func(b []byte) error) (page.SlotRead, error) {
	var deadline time.Time
	var stuckSeq uint64
	pause := time.Microsecond
	for {
		if err := rd.check(); err != nil {
			return page.SlotRead{}, err
		}
		res, found, retries, err := rd.a.r.Read(uint64(id), fn, 64)
		if retries > 0 {
			rd.retries.Add(uint64(retries))
		}
		if err == nil {
			if !found {
				return res, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
			}
			return res, nil
		}
		if !page.IsRetry(err) {
			return res, fmt.Errorf("mmsb: read page %d: %w", id, err)
		}
		// 64 attempts failed. A sequence word that is odd and has not
		// moved since the last round means the writer stopped mid-write:
		// give it WriterTimeout. A moving word is a busy page: keep going.
		// An even word fails an attempt only by moving, except when the
		// page's chunk is unavailable (a large page being freed, see
		// page.ShmReader.readOnce): one that stays put is bounded the same
		// way, so that a corrupt chunk table cannot make reads spin.
		now := time.Now()
		stuck := res.Seq == stuckSeq && !deadline.IsZero()
		if !stuck {
			stuckSeq, deadline, pause = res.Seq, now.Add(rd.opts.WriterTimeout), time.Microsecond
		} else if now.After(deadline) {
			if res.Seq&1 == 0 {
				return res, fmt.Errorf("%w: page %d: its chunk stayed unavailable (sequence %d) for more than %v", ErrSharedCorrupt, id, res.Seq, rd.opts.WriterTimeout)
			}
			return res, fmt.Errorf("%w: page %d mid-write (sequence %d) for more than %v", ErrWriterGone, id, res.Seq, rd.opts.WriterTimeout)
		}
		if res.Seq&1 != 0 || stuck {
			time.Sleep(pause)
			pause = min(2*pause, time.Millisecond)
		} else {
			runtime.Gosched()
		}
	}
}

// ReadPage appends a consistent copy of page id's bytes to dst and returns
// them with the page's epoch and the LSN of its last write, as
// Bus.ReadPage does: pass dst[:0] to reuse a buffer (one with the page's
// capacity does not allocate), nil for a new one. It retries while the
// page changes under the copy (each attempt appends to the same dst, so a
// retried read still appends the page once); a page left mid-write longer
// than WriterTimeout gives ErrWriterGone. A missing page gives
// ErrPageNotFound. On an error data is nil.
func (rd *Reader) ReadPage(id PageID, dst []byte) (data []byte, epoch Epoch, lsn LSN, err error) {
	fn := func(b []byte) error {
		// dst, not data: an attempt discarded by the seqlock must not
		// stay in the result.
		data = append(dst, b...)
		return nil
	}
	var res page.SlotRead
	ok, retry := false, false
	if a := rd.cur.Load(); a != nil {
		// fn returns no error: err is a mapped file that shrank under the
		// reader (ErrSharedCorrupt), reported with ok true.
		ok, retry, err = a.r.TryRead(uint64(id), fn, &res)
	}
	if !ok {
		if retry {
			rd.retries.Add(1)
		}
		// No defer: nothing between Lock and Unlock calls the caller's code.
		rd.mu.Lock()
		res, err = rd.read(id, fn)
		rd.mu.Unlock()
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return data, Epoch(res.Epoch), LSN(res.LSN), nil
}

// View calls fn with page id's bytes in place (zero-copy, read-only
// memory: writing to b faults). fn runs while the writer may be changing
// the page: after fn returns, the page's sequence word is checked and, if
// it moved, fn is called again (up to the same bounds as ReadPage) and the
// earlier call's effects must be discarded by the caller. So fn must not
// retain b, must tolerate torn contents in a call that is then repeated,
// and should be short; it must not call any of the Reader's methods:
// when the read falls back to the locked path (as the first View of a
// page whose chunk the Reader has not mapped yet does), fn runs under the
// Reader's mutex, and a method that takes it (LastLSN, Pages, Snapshot,
// Stats, Close, a ReadPage or View that misses the lock-free path)
// blocks for ever. fn's
// error is returned only from the consistent call. A region file truncated
// under the Reader (by its owner) makes fn's access to b fail View with
// ErrSharedCorrupt; b read after View returned (kept against these rules)
// is not protected: that access is a fatal SIGBUS. A nil fn is
// ErrInvalidOption.
func (rd *Reader) View(id PageID, fn func(b []byte) error) error {
	if fn == nil {
		// It panicked inside the seqlock read (one predictable branch).
		return fmt.Errorf("%w: View: nil function", ErrInvalidOption)
	}
	// ReadPage and View first make one seqlock attempt on the current
	// attachment without the Reader's mutex, changing nothing in the
	// reader (page.ShmReader.TryRead); when it declines (done false) the
	// locked path, read, handles everything else and calls fn again. Why
	// no mutex: its two locked instructions per call each wait for every
	// earlier load, so random reads could not overlap. Why TryRead is
	// called right here rather than through a helper: each call level
	// also shortens how far the CPU runs ahead into the next read
	// (docs/benchmarks.md). What makes it safe: cur is the attachment in
	// use, swapped atomically by reattach and cleared by Close; a released
	// attachment's mappings are not unmapped but replaced by zero pages,
	// and TryRead discards an attempt that overlapped that
	// (page.ShmReader.Close), so a read racing with Close or reattach
	// never touches an unmapped address and never reports zeros.
	if a := rd.cur.Load(); a != nil {
		ok, retry, err := a.r.TryRead(uint64(id), fn, nil)
		if ok {
			return err
		}
		return rd.viewLocked(id, fn, retry)
	}
	return rd.viewLocked(id, fn, false)
}

// viewLocked is View's slow path, under the Reader's mutex; retried: the
// fast attempt saw the page change (counted here, off the fast path).
func (rd *Reader) viewLocked(id PageID, fn func(b []byte) error, retried bool) error {
	if retried {
		rd.retries.Add(1)
	}
	rd.mu.Lock()
	defer rd.mu.Unlock() // fn is the caller's: a panic in it must unlock
	_, err := rd.read(id, fn)
	return err
}

// Pages returns the IDs of the live pages, ascending.
func (rd *Reader) Pages() ([]PageID, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if err := rd.check(); err != nil {
		return nil, err
	}
	ids, err := rd.a.r.IDs()
	if err != nil {
		return nil, fmt.Errorf("mmsb: list pages: %w", err)
	}
	out := make([]PageID, len(ids))
	for i, id := range ids {
		out[i] = PageID(id)
	}
	return out, nil
}

// LastLSN returns the LSN of the last commit the writer published. Every
// write up to it is visible to reads that start afterwards.
func (rd *Reader) LastLSN() LSN {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.closed {
		return 0
	}
	return LSN(rd.a.r.LSN())
}

// Wait blocks until the committed LSN exceeds afterLSN and returns it. It
// polls the header word for WaitSpin (yielding the processor), then sleeps
// on a futex on that word, which the writer wakes at every commit (Linux;
// elsewhere it polls every millisecond). Sleeps last at most 5 ms
// (waitSlice), so ctx, the writer's liveness and a new generation are
// noticed within that.
// It fails with ctx's error (checked before every sleep), ErrWriterGone,
// ErrStale, ErrClosed once the Reader is closed, or ErrSharedCorrupt when
// the header became unreadable (a file truncated under the Reader).
func (rd *Reader) Wait(ctx context.Context, afterLSN LSN) (LSN, error) {
	if err := checkCtx(ctx, "Reader.Wait"); err != nil {
		return 0, err
	}
	spinUntil := time.Now().Add(rd.opts.WaitSpin)
	for i := 0; ; i++ {
		// The mutex is held for one check at a time, never across a
		// spin or a sleep: a Wait that may last until the next commit
		// must not block the Reader's other calls (Close, LastLSN, a
		// ReadPage's locked path) for that long.
		l, a, err := rd.waitCheck(afterLSN)
		if err != nil || l > afterLSN {
			return l, err
		}
		if i < 64 || time.Now().Before(spinUntil) {
			if i&63 == 0 {
				if err := ctx.Err(); err != nil {
					return 0, err
				}
			}
			runtime.Gosched()
			continue
		}
		// Before every sleep, not every 64th round: once past the spin,
		// a round is a sleep of up to waitSlice, and a cancelled ctx was
		// noticed only after up to 63 of them (~315 ms).
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if h := rd.waitSleeping; h != nil {
			h()
		}
		d := waitSlice
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, max(time.Until(dl), time.Microsecond))
		}
		// Outside the mutex: a Close or reattach meanwhile turns a's
		// mappings into zero pages (never unmaps them), which a later
		// Reader may map its files over; WaitLSN returns at once for a
		// closed attachment, or after at most d if the Close came just
		// after its check; the next check reports it.
		a.r.WaitLSN(uint64(afterLSN), d)
	}
}

// waitCheck is one round of Wait's checks under the Reader's mutex: the
// committed LSN (returned if past afterLSN), then the writer's state. It
// returns the attachment to sleep on.
func (rd *Reader) waitCheck(afterLSN LSN) (LSN, *attachment, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.closed {
		return 0, nil, errReaderClosed
	}
	if l := LSN(rd.a.r.LSN()); l > afterLSN {
		return l, rd.a, nil
	}
	if err := rd.check(); err != nil {
		return 0, nil, err
	}
	return 0, rd.a, nil
}

// waitSlice bounds one futex sleep in Wait.
const waitSlice = 5 * time.Millisecond

// SnapshotPage is one page of a Snapshot.
type SnapshotPage struct {
	ID    PageID
	Data  []byte
	Epoch Epoch
	LSN   LSN // the page's last write, <= the snapshot's LSN
}

// Snapshot reads pages ids consistently at one LSN: it reads the committed
// LSN L, then every page (each under its seqlock), and accepts the result
// when no page was written after L (every write up to L was applied
// before L was published, so the pages are exactly the state at L). It
// retries otherwise, up to ReaderOptions.SnapshotRetries times, then fails
// with ErrSnapshotBusy. A page missing at L gives ErrPageNotFound; a page
// missing because a commit after L freed it (applied before its LSN is
// published) makes it wait for that commit and retry, and fail with
// ErrSnapshotBusy if the commit is not published within WriterTimeout.
func (rd *Reader) Snapshot(ids []PageID) ([]SnapshotPage, LSN, error) {
	return rd.SnapshotInto(ids, nil)
}

// SnapshotInto is Snapshot reusing dst's pages and their Data buffers when
// cap(dst) >= len(ids) (no allocation in steady state): the result is
// dst[:len(ids)], its page i overwritten with ids[i]'s, so dst and dst[:0]
// (as for ReadPage's dst) both reuse the same pages.
func (rd *Reader) SnapshotInto(ids []PageID, dst []SnapshotPage) ([]SnapshotPage, LSN, error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if cap(dst) >= len(ids) {
		// dst[:0] reused nothing before: only len(dst) == len(ids) did.
		dst = dst[:len(ids)]
	} else {
		dst = make([]SnapshotPage, len(ids))
	}
	for attempt := 0; attempt < rd.opts.SnapshotRetries; attempt++ {
		// Checked here, not only by each page's read: a Snapshot of no
		// pages read none, and returned the LSN of a closed Reader's
		// zero pages (0) or of a writer gone.
		if err := rd.check(); err != nil {
			return nil, 0, err
		}
		a := rd.a
		at := LSN(a.r.LSN())
		ok := true
		for i, id := range ids {
			p := &dst[i]
			res, err := rd.read(id, func(b []byte) error {
				p.Data = append(p.Data[:0], b...)
				return nil
			})
			if err != nil {
				if errors.Is(err, ErrPageNotFound) && (rd.a != a || LSN(rd.a.r.LSN()) != at) {
					ok = false // freed by a commit after at: retry
					break
				}
				// The committed LSN has not moved, but the writer applies
				// a commit's operations before it publishes the commit's
				// LSN, so the page may have existed at at and been freed
				// by a commit still being applied. The free word (loaded
				// after the page was found missing; page.hFreeLSN) tells:
				// above at, wait for that commit and retry; otherwise the
				// page was missing at at. A writer "in progress" counter
				// would also tell, but would cost every commit a store;
				// the free word costs only frees.
				if errors.Is(err, ErrPageNotFound) {
					if f := LSN(a.r.FreeLSN()); f > at {
						if err := rd.awaitFreeCommit(a, id, f); err != nil {
							return nil, 0, err
						}
						ok = false
						break
					}
				}
				return nil, 0, err
			}
			p.ID, p.Epoch, p.LSN = id, Epoch(res.Epoch), LSN(res.LSN)
			if p.LSN > at || rd.a != a { // moved on, or reattached mid-snapshot
				ok = false
				break
			}
		}
		if ok {
			return dst, at, nil
		}
		rd.snapRetries.Add(1)
		runtime.Gosched()
	}
	return nil, 0, fmt.Errorf("%w: %d attempts over %d pages", ErrSnapshotBusy, rd.opts.SnapshotRetries, len(ids))
}

// awaitFreeCommit waits until the writer has published the commit of
// LSN freeLSN, whose free may be why page id is missing from a Snapshot,
// at most WriterTimeout (the commit is normally published microseconds
// after its operations are applied): ErrSnapshotBusy when it is not,
// ErrWriterGone or ErrStale when the writer goes, nil when it is
// published or the Reader reattached (the caller retries on the region it
// has now). Caller holds rd.mu.
func (rd *Reader) awaitFreeCommit(a *attachment, id PageID, freeLSN LSN) error {
	deadline := time.Now().Add(rd.opts.WriterTimeout)
	for LSN(a.r.LSN()) < freeLSN {
		if err := rd.check(); err != nil {
			return err
		}
		if rd.a != a {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: page %d is gone, freed by the commit of LSN %d, which the writer did not publish within %v (committed LSN %d)",
				ErrSnapshotBusy, id, freeLSN, rd.opts.WriterTimeout, a.r.LSN())
		}
		a.r.WaitLSN(uint64(freeLSN)-1, min(left, waitSlice))
	}
	return nil
}

// Stats returns the reader-side metrics. (Readers attached are not
// counted: readers write nothing shared, by design.)
func (rd *Reader) Stats() ReaderStats {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	st := ReaderStats{Retries: rd.retries.Load(), SnapshotRetries: rd.snapRetries.Load(), Reattaches: rd.reattaches.Load()}
	if !rd.closed {
		st.Generation, st.WriterPID = rd.a.r.Gen(), rd.a.r.PID()
	}
	return st
}

// Close unmaps the region. Further calls fail with ErrClosed.
func (rd *Reader) Close() error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.closed {
		return nil
	}
	rd.closed = true
	rd.cur.Store(nil)
	return rd.a.close()
}
