package tlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/metric"
	"github.com/mmsb-go/mmsb/vfs"
)

// maxBuffered bounds the group-commit buffer: under SyncGroup an Append that
// finds this many bytes unwritten writes them (without fsync) itself, so a
// producer that never calls Wait cannot grow the buffer without limit.
const maxBuffered = 16 << 20

// maxSpareBytes is the largest write buffer the log keeps for reuse: the
// buffer a group of records was framed in grows to hold the largest record
// (up to MaxRecordBytes), and is let go afterwards when larger than this.
const maxSpareBytes = 2 * maxBuffered

// Log is an open, writable transaction log.
//
// Concurrency: one mutex guards all state. I/O for a commit group is done
// by one "leader" goroutine outside the mutex, on a buffer it took from the
// log (the log switches to a spare buffer), so Appends keep filling the next
// group while the leader writes and fsyncs. flushing marks a leader in
// flight; only the leader, rotation (which waits for the leader) and Close
// touch the file.
type Log struct {
	fs       vfs.FS
	dir      string
	mode     SyncMode
	segBytes int64

	mu        sync.Mutex
	buf       []byte // framed records appended but not yet written
	bufRecs   int    // records in buf
	spare     []byte // the buffer the last leader wrote, reused for the next swap (if at most maxSpareBytes)
	flushing  bool
	flushDone chan struct{} // closed when the in-flight flush ends; made only when someone waits

	f       vfs.File // active segment (nil before the first Append of an empty log)
	segSize int64    // bytes in the active segment, buffered bytes included
	// wbFrom: under SyncNone, the active segment's bytes before it have
	// been handed to the OS for writeback (see startWriteback). Used by
	// the flush leader and by rotation, which waits for no leader.
	wbFrom int64
	segs   []segment

	hasLast bool // the log holds (or held) records, so Append must continue lastLSN
	lastLSN base.LSN
	written base.LSN // every LSN <= written has been handed to the OS
	synced  base.LSN // every LSN <= synced has been fsynced
	err     error    // sticky failure
	closed  bool

	stats Stats

	fsyncNanos   *metric.Histogram // optional (Options.FsyncNanos)
	groupRecords *metric.Histogram // optional (Options.GroupRecords)

	removeMu sync.Mutex // serialises RemoveThrough

	// Background group flusher (SyncGroup): Kick wakes it to write and
	// fsync whatever is buffered, so a committer that does not wait (an
	// asynchronous commit) overlaps its next batch with the fsync.
	kick        chan struct{}
	stop        chan struct{}
	flusherDone chan struct{} // closed when the flusher has returned

	// flushHook, set by tests under mu, runs where a flush leader works
	// outside mu (leaderIO), to panic there.
	flushHook func()

	// index is a sparse map from LSN to record position: one entry per
	// indexEvery bytes of log, plus the first record of each segment, so
	// that a reader can start near any LSN instead of at its segment's
	// start. Memory: ~40 bytes per 256 KiB of log.
	index  []Position
	idxOff int64 // offset of the last indexed frame in the active segment; -1: none yet
}

// indexEvery is the log distance between two index entries.
const indexEvery = 256 << 10

// Locate returns the indexed position of the last record starting at or
// before lsn, if the index has one in a segment that still exists.
func (l *Log) Locate(lsn base.LSN) (Position, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.index), func(i int) bool { return l.index[i].FirstLSN > lsn })
	if i == 0 {
		return Position{}, false
	}
	return l.index[i-1], true
}

// Kick asks for a group flush (write and fsync of everything appended so
// far) in the background, without waiting for it. Only SyncGroup logs have
// a background flusher; for the other modes Kick does nothing (their
// Append already wrote).
func (l *Log) Kick() {
	if l.kick == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default: // a flush is already requested
	}
}

// flusher is the background group flusher's loop.
func (l *Log) flusher() {
	defer close(l.flusherDone)
	for {
		select {
		case <-l.stop:
			return
		case <-l.kick:
			l.mu.Lock()
			if !l.closed && l.err == nil && l.synced < l.lastLSN {
				_ = l.flushLocked(context.Background(), l.lastLSN, true) // failures are sticky: committers see them
			}
			l.mu.Unlock()
		}
	}
}

// Open opens (creating if needed) the log in opts.Dir and recovers it: every
// segment that may hold LSNs > replayFrom is read and checked; fn is called,
// in order, for every record holding any LSN > replayFrom. A torn tail
// (incomplete record, or a bad-CRC record followed only by zeros or EOF, in
// the last segment) is truncated and reported. Any other bad record or
// header is a *corruption.Error (unless opts.Repair). An error from fn aborts
// Open and is returned.
//
// Segments whose successor starts at or below replayFrom+1 hold nothing to
// replay; only their headers are checked.
//
// The active segment is fsynced before Open returns: a writer that crashed
// (under SyncNone, or between an append and its group fsync) may have left
// records that reached the OS but no disk, and recovery has just replayed
// them. Syncing them here is what lets the reopened log report them durable
// (DurableLSN) and lets Sync skip them. Finished segments need nothing:
// rotation fsyncs a segment before starting the next.
func Open(opts Options, replayFrom base.LSN, fn func(r *Record) error) (*Log, RecoveryReport, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	switch opts.Sync {
	case SyncGroup, SyncAlways, SyncNone:
	default:
		return nil, RecoveryReport{}, fmt.Errorf("tlog: unknown sync mode %d", opts.Sync)
	}
	if err := vfs.MkdirAllAndSync(opts.FS, opts.Dir); err != nil {
		return nil, RecoveryReport{}, fmt.Errorf("tlog: create %s: %w", opts.Dir, err)
	}
	if err := removeLeftovers(opts.FS, opts.Dir); err != nil {
		return nil, RecoveryReport{}, err
	}
	// Index the records recovery replays, as Append indexes new ones.
	var index []Position
	var idxFile string
	var idxOff int64
	indexed := func(r *Record) error {
		if r.File != idxFile || r.Offset-idxOff >= indexEvery {
			index = append(index, Position{File: r.File, Offset: r.Offset, FirstLSN: r.FirstLSN})
			idxFile, idxOff = r.File, r.Offset
		}
		if fn == nil {
			return nil
		}
		return fn(r)
	}
	rc := recovery{opts: opts, replayFrom: replayFrom, fn: indexed}
	if err := rc.run(); err != nil {
		return nil, rc.report, err
	}
	l := &Log{
		fs:       opts.FS,
		dir:      opts.Dir,
		mode:     opts.Sync,
		segBytes: opts.SegmentBytes,
		segs:     rc.segs,
		hasLast:  rc.hasLast,
		lastLSN:  rc.lastLSN,
		written:  rc.lastLSN,
		synced:   rc.lastLSN,
		index:    index,
		idxOff:   -1,

		fsyncNanos:   opts.FsyncNanos,
		groupRecords: opts.GroupRecords,
	}
	if rc.activeSize > 0 {
		active := rc.segs[len(rc.segs)-1].path
		// Appended to from now on: a hard-linked backup of it keeps what
		// it held at Open, not the records written after.
		if err := unshareSegment(opts.FS, active); err != nil {
			return nil, rc.report, err
		}
		f, err := opts.FS.OpenAppend(active)
		if err != nil {
			return nil, rc.report, fmt.Errorf("tlog: open %s for append: %w", active, err)
		}
		l.stats.Syncs++
		if err := l.syncFile(f); err != nil {
			_ = f.Close() // the fsync error is the one to report
			return nil, rc.report, fmt.Errorf("tlog: fsync %s at open: %w", active, err)
		}
		l.f, l.segSize, l.wbFrom = f, rc.activeSize, rc.activeSize
	}
	if opts.KeepSegment && len(l.segs) == 0 {
		// An empty log keeps a segment where it continues (see
		// Options.KeepSegment): beside a checkpoint, a log directory
		// without one is a log whose segments were removed.
		next := replayFrom + 1
		if l.hasLast {
			next = l.lastLSN + 1
		}
		// A newest-segment file left naming next (or later: a log
		// emptied, its loss accepted) would name the segment made here
		// before its header is durable, and a crash then left a torn
		// header that reads as damage (NamedHeaderTorn). It goes first;
		// the next rotation writes it again.
		if cur, err := ReadNewest(opts.FS, opts.Dir); cur >= next || errors.Is(err, ErrBadNewest) {
			if err := removeSynced(opts.FS, opts.Dir, opts.FS.Join(opts.Dir, NewestFileName)); err != nil {
				return nil, rc.report, err
			}
		}
		if err := l.createSegment(next); err != nil {
			return nil, rc.report, err
		}
		l.hasLast, l.lastLSN, l.written, l.synced = true, next-1, next-1, next-1
	}
	l.stats.Segments = len(l.segs)
	rep := rc.report
	rep.Segments = len(l.segs)
	if l.hasLast && len(l.segs) > 0 {
		rep.FirstLSN, rep.LastLSN = l.segs[0].first, l.lastLSN
	}
	if l.mode == SyncGroup {
		l.kick, l.stop, l.flusherDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go l.flusher()
	}
	return l, rep, nil
}

// fail records the sticky error. Callers hold mu.
func (l *Log) fail(op, path string, err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("tlog: %s %s failed, log is unusable: %w", op, path, err)
	}
	return l.err
}

// writeFull writes b to f and takes a write that returns n < len(b) with
// no error for a failed one. io.Writer's contract forbids that, but a
// caller's own vfs.FS could break it, and then the rest of b would be
// lost unnoticed: records counted as written (and commits acknowledged)
// that no recovery finds, or a header missing its end.
//
// A Write that panics (a caller's own vfs.FS, again) is a failed write:
// its panic is returned as an error (see panicError). The flush leader
// writes outside mu, and a panic there skipped the relock: the deferred
// Unlock of Wait or Append then unlocked an unlocked mutex, a fatal error
// no one can recover, and a flusher goroutine's panic ended the process
// (TestFilePanicFailsLog). One deferred call per write of a group, not
// per record.
func writeFull(f vfs.File, b []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError("Write", v)
		}
	}()
	n, err = f.Write(b)
	if err == nil && n < len(b) {
		err = fmt.Errorf("%w: %d of %d bytes written", io.ErrShortWrite, n, len(b))
	}
	return n, err
}

// ErrFilePanicked is wrapped by the sticky error of a log whose segment
// file's method panicked (see panicError).
var ErrFilePanicked = errors.New("tlog: segment file panicked")

// ErrPanicked is wrapped by the sticky error of a log whose own code
// panicked (a defect) where a flush leader works outside the log's lock
// (see leaderIO).
var ErrPanicked = errors.New("tlog: the log's own code panicked (a defect)")

// panicError is the error that stands for a panic with value v out of the
// segment file's method: the log fails with it (sticky) as with an error
// the method returned, and every waiter is woken with it. A value that is
// an error is wrapped (errors.Is and As see it).
func panicError(method string, v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%w: File.%s panicked: %w", ErrFilePanicked, method, err)
	}
	return fmt.Errorf("%w: File.%s panicked: %v", ErrFilePanicked, method, v)
}

// guardFile calls fn, a call of the segment file's method named method,
// turning a panic into an error (panicError), as writeFull does for Write.
func guardFile(method string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(method, v)
		}
	}()
	return fn()
}

func (l *Log) activePath() string {
	if len(l.segs) == 0 {
		return l.dir
	}
	return l.segs[len(l.segs)-1].path
}

// Append frames payload as a record holding LSNs [first, first+count) and
// queues it. Callers serialise Append calls; first must equal LastLSN()+1
// (or anything when the log is empty). payload is copied. Under SyncAlways
// the record is durable when Append returns, under SyncNone it has been
// written to the OS. After any write or fsync failure the log is failed:
// this and every later call returns the sticky error. A record whose own
// write or fsync failed may still have reached the file, whole, and be
// found by a later Open.
//
// A panic out of the FS under Append (creating or rotating a segment: the
// file's own methods are guarded where they are called) fails the log as
// an error of that call would, and is returned: it left the log failed in
// no way, half through a rotation, before.
func (l *Log) Append(first base.LSN, count uint32, payload []byte) (t Ticket, err error) {
	l.mu.Lock()
	defer func() {
		if v := recover(); v != nil {
			t, err = Ticket{}, l.fail("append to", l.activePath(), fmt.Errorf("%w: the FS panicked: %v", ErrFilePanicked, v))
		}
		l.mu.Unlock()
	}()
	if l.err != nil {
		return Ticket{}, l.err
	}
	if l.closed {
		return Ticket{}, ErrClosed
	}
	last := first + base.LSN(count) - 1
	switch {
	case count == 0:
		return Ticket{}, fmt.Errorf("%w: count is 0 (first LSN %d)", ErrInvalidRecord, first)
	case first == 0:
		return Ticket{}, fmt.Errorf("%w: first LSN is 0", ErrInvalidRecord)
	case last < first:
		return Ticket{}, fmt.Errorf("%w: LSN range %d+%d overflows", ErrInvalidRecord, first, count)
	case len(payload) > MaxRecordBytes:
		return Ticket{}, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrInvalidRecord, len(payload), MaxRecordBytes)
	case l.hasLast && first != l.lastLSN+1:
		return Ticket{}, fmt.Errorf("%w: first LSN %d, want %d", ErrOutOfOrder, first, l.lastLSN+1)
	}
	if l.f == nil {
		if err := l.createSegment(first); err != nil {
			return Ticket{}, err
		}
	} else if l.segSize >= l.segBytes {
		if err := l.rotate(first); err != nil {
			return Ticket{}, err
		}
	}
	if l.idxOff < 0 || l.segSize-l.idxOff >= indexEvery {
		l.index = append(l.index, Position{File: l.activePath(), Offset: l.segSize, FirstLSN: first})
		l.idxOff = l.segSize
	}
	l.buf = appendFrame(l.buf, first, count, payload)
	l.bufRecs++
	l.stats.PayloadBytes += uint64(len(payload))
	frame := int64(FrameHeaderSize + len(payload))
	l.segSize += frame
	l.lastLSN, l.hasLast = last, true
	l.stats.Records++
	l.stats.Bytes += uint64(frame)
	switch l.mode {
	case SyncAlways:
		err = l.flushLocked(context.Background(), last, true)
	case SyncNone:
		err = l.flushLocked(context.Background(), last, false)
	default:
		if len(l.buf) >= maxBuffered && !l.flushing {
			err = l.flushLocked(context.Background(), last, false)
		}
	}
	if err != nil {
		return Ticket{}, err
	}
	return Ticket{LSN: last}, nil
}

// flushLocked makes every LSN <= target written (and fsynced if needSync).
// It is the group-commit protocol: if no flush is in flight the caller
// becomes the leader, takes the whole buffer, writes it with one call and
// fsyncs it outside the mutex, publishes the result and wakes the waiters;
// otherwise it waits for the in-flight flush and checks again (records
// appended during that flush form the next group). Callers hold mu; it is
// released during I/O and waits.
func (l *Log) flushLocked(ctx context.Context, target base.LSN, needSync bool) error {
	for {
		if l.err != nil {
			return l.err
		}
		if l.synced >= target || (!needSync && l.written >= target) {
			return nil
		}
		if l.flushing {
			if l.flushDone == nil {
				l.flushDone = make(chan struct{})
			}
			done := l.flushDone
			l.mu.Unlock()
			select {
			case <-done:
				l.mu.Lock()
			case <-ctx.Done():
				l.mu.Lock()
				return ctx.Err()
			}
			continue
		}
		if l.closed || l.f == nil {
			return ErrClosed
		}
		l.flushing = true
		buf, f, upTo, recs := l.buf, l.f, l.lastLSN, l.bufRecs
		end := l.segSize // the file's size once buf is written
		l.buf, l.spare, l.bufRecs = l.spare[:0], nil, 0
		l.mu.Unlock()

		op, writes, syncs, wrote, err := l.leaderIO(f, buf, recs, end, needSync)

		l.mu.Lock()
		if cap(buf) <= maxSpareBytes {
			l.spare = buf[:0]
		} // else let it go: one large record would keep it for the log's life
		l.flushing = false
		l.stats.Writes += uint64(writes)
		l.stats.Syncs += uint64(syncs)
		l.stats.WriteBytes += uint64(wrote)
		if err != nil {
			_ = l.fail(op, l.activePath(), err) // sticky: later calls return it
		} else {
			l.written = upTo
			if needSync {
				l.synced = upTo
			}
		}
		if l.flushDone != nil {
			close(l.flushDone)
			l.flushDone = nil
		}
	}
}

// leaderIO is a flush leader's work outside mu: write buf (recs records)
// to f, the active segment, then fsync it (needSync) or, under SyncNone,
// start its writeback up to end. It returns what failed ("write" or
// "fsync") with the error, and what it did, for the stats.
//
// A panic out of the log's own code here (a defect; the file's methods
// are guarded where they are called) is returned as the flush's error,
// wrapping ErrPanicked, and becomes the log's sticky failure as a failed
// write does. It skipped the relock: in a caller's Wait or Sync the
// deferred Unlock then met an unlocked mutex (fatal error: sync: unlock
// of unlocked mutex, which no one can recover), and on the background
// flusher's goroutine the panic ended the process (TestFlushPanicFailsLog).
// One deferred call per flush.
func (l *Log) leaderIO(f vfs.File, buf []byte, recs int, end int64, needSync bool) (op string, writes, syncs, wrote int, err error) {
	op = "write"
	defer func() {
		if v := recover(); v != nil {
			if perr, ok := v.(error); ok {
				err = fmt.Errorf("%w: flushing: %w", ErrPanicked, perr)
			} else {
				err = fmt.Errorf("%w: flushing: %v", ErrPanicked, v)
			}
		}
	}()
	if l.flushHook != nil {
		l.flushHook()
	}
	if len(buf) > 0 {
		writes++
		wrote, err = writeFull(f, buf)
		l.observeGroup(recs)
	}
	if err == nil && needSync {
		op = "fsync"
		syncs++
		err = l.syncFile(f)
	} else if err == nil && l.mode == SyncNone {
		l.startWriteback(f, end)
	}
	return op, writes, syncs, wrote, err
}

// logWritebackBytes is how much a SyncNone segment takes in before the log
// asks the OS to start writing it back.
const logWritebackBytes = 8 << 20

// startWriteback asks the OS to start writing back the active segment's
// bytes up to end once logWritebackBytes have come since the last time,
// without waiting. Under SyncNone nothing else writes a segment back
// before its rotation, whose fsync then wrote the whole segment (64 MiB)
// while the commit that rotated, and every commit behind it, waited: 33-39
// ms every quarter second on the project's VM (docs/benchmarks.md). It is
// a hint, not a durability point: its error is dropped, since a failed
// writeback fails the rotation's fsync, which reports it. Called by the
// flush leader outside mu.
func (l *Log) startWriteback(f vfs.File, end int64) {
	rs, ok := f.(vfs.RangeSyncer)
	if !ok || end-l.wbFrom < logWritebackBytes {
		return
	}
	// A hint: its panic, like its error, is dropped (the next fsync
	// reports a device that fails).
	_ = guardFile("StartWriteback", func() error { return rs.StartWriteback(l.wbFrom, end-l.wbFrom) })
	l.wbFrom = end
}

// waitIdle waits (ignoring contexts) until no leader is in flight. Callers
// hold mu.
func (l *Log) waitIdle() {
	for l.flushing {
		if l.flushDone == nil {
			l.flushDone = make(chan struct{})
		}
		done := l.flushDone
		l.mu.Unlock()
		<-done
		l.mu.Lock()
	}
}

// createSegment creates the segment starting at first, writes and fsyncs
// its header and fsyncs the directory, so the segment is durable before any
// record that depends on it. Callers hold mu with no flush in flight.
func (l *Log) createSegment(first base.LSN) error {
	path := l.fs.Join(l.dir, SegmentName(first))
	f, err := l.fs.Create(path)
	if err != nil {
		return l.fail("create", path, err)
	}
	if h, ok := f.(vfs.SizeHinter); ok {
		// A segment grows to about segBytes (plus the record that crosses
		// it): let an in-memory file reserve that once instead of doubling.
		// On another goroutine: reserving 80 MiB zeroes them when Go
		// reuses freed memory (once checkpoints have freed older
		// segments), which took 8 ms of the commit that rotated. The first
		// records meanwhile grow the file by doubling, from a few bytes.
		// A hint: its panic (a caller's own vfs.FS) is dropped; on its
		// own goroutine it ended the process
		// (TestFilePanicInSizeHintAndTornWrite).
		go func(n int64) {
			defer func() { _ = recover() }()
			h.SizeHint(n)
		}(l.segBytes + l.segBytes/4)
	}
	var hdr [SegmentHeaderSize]byte
	l.stats.Writes++
	n, err := writeFull(f, appendSegmentHeader(hdr[:0], first))
	l.stats.WriteBytes += uint64(n)
	if err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return l.fail("write header of", path, err)
	}
	l.stats.Syncs++
	if err := l.syncFile(f); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return l.fail("fsync", path, err)
	}
	l.stats.Syncs++
	if err := l.fs.SyncDir(l.dir); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return l.fail("fsync directory", l.dir, err)
	}
	// The segment is durable: the newest-segment file names it before a
	// record goes into it, where an older segment is there to end the log
	// at should it go (see NewestFileName; an only segment removed leaves
	// no segment, which the bus finds without the file).
	if len(l.segs) > 0 {
		l.stats.Syncs += 2
		if err := writeNewest(l.fs, l.dir, first); err != nil {
			_ = f.Close() // already failing: the error above is the one to report
			return l.fail("record the newest segment in", l.dir, err)
		}
	}
	l.f, l.segSize, l.wbFrom = f, SegmentHeaderSize, SegmentHeaderSize
	l.idxOff = -1
	l.segs = append(l.segs, segment{first: first, path: path})
	l.stats.Segments = len(l.segs)
	return nil
}

// rotate finishes the active segment (write, fsync, close) and starts a new
// one at first. Rotation is rare, so it runs under mu.
func (l *Log) rotate(first base.LSN) error {
	l.waitIdle()
	if l.err != nil {
		return l.err
	}
	path := l.activePath()
	if len(l.buf) > 0 {
		l.stats.Writes++
		n, err := writeFull(l.f, l.buf)
		l.stats.WriteBytes += uint64(n)
		l.observeGroup(l.bufRecs)
		if err != nil {
			return l.fail("write", path, err)
		}
		l.buf, l.bufRecs = l.buf[:0], 0
	}
	l.stats.Syncs++
	if err := l.syncFile(l.f); err != nil {
		return l.fail("fsync", path, err)
	}
	l.written, l.synced = l.lastLSN, l.lastLSN
	if err := guardFile("Close", l.f.Close); err != nil {
		return l.fail("close", path, err)
	}
	l.f = nil
	return l.createSegment(first)
}

// Wait blocks until the ticket's record is durable per the sync mode (a
// group fsync covers it, for SyncGroup; immediate for the other modes).
// It returns ctx.Err() if ctx ends first (the record may still become
// durable later).
func (l *Log) Wait(ctx context.Context, t Ticket) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mode != SyncGroup || l.synced >= t.LSN {
		return l.err
	}
	return l.flushLocked(ctx, t.LSN, true)
}

// Sync writes and fsyncs everything appended so far, in every sync mode.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked(context.Background(), l.lastLSN, true)
}

// SyncContext is Sync whose wait for a flush another goroutine runs ends
// with ctx (it returns ctx.Err()); a write and fsync it runs itself are
// not interrupted.
func (l *Log) SyncContext(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked(ctx, l.lastLSN, true)
}

// WriteThrough writes every record holding an LSN <= lsn to its segment
// file, without an fsync: a Reader opened after it returns sees them. A
// replay that follows a live log (the bus's VerifyReplay) needs no more, and
// an fsync under the bus's lock would keep commits waiting on the device.
// It returns the sticky error of a failed log, or ctx.Err() if ctx ends
// while an in-flight flush is waited for.
func (l *Log) WriteThrough(ctx context.Context, lsn base.LSN) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked(ctx, min(lsn, l.lastLSN), false)
}

// LastLSN returns the last LSN appended (0 if none).
func (l *Log) LastLSN() base.LSN {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastLSN
}

// Err returns the sticky failure, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// RemoveThrough removes every segment whose records all have LSN <= lsn,
// never the segment being written. It returns the number removed. A
// segment's records end just before its successor's first LSN, so only the
// file names are needed. A failed removal is returned but does not fail the
// log: the file is merely kept.
func (l *Log) RemoveThrough(lsn base.LSN) (int, error) { return l.RemoveThroughUntil(lsn, nil) }

// RemoveThroughUntil is RemoveThrough, whose paced removals
// (vfs.RemoveGraduallyUntil) free the rest of each file at once once hurry
// (nil: never) reports true: the bus passes "Close has begun", when no
// commit is left for the pacing to protect.
func (l *Log) RemoveThroughUntil(lsn base.LSN, hurry func() bool) (int, error) {
	l.removeMu.Lock()
	defer l.removeMu.Unlock()
	l.mu.Lock()
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].first-1 <= lsn {
		n++
	}
	victims := append([]segment(nil), l.segs[:n]...)
	l.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	removed := 0
	var err error
	for _, s := range victims {
		if rerr := removeSegment(l.fs, s.path, hurry); rerr != nil && !vfs.IsNotExist(rerr) {
			err = fmt.Errorf("tlog: remove %s: %w", s.path, rerr)
			break
		}
		removed++
	}
	if removed > 0 {
		if serr := guardFile("SyncDir", func() error { return l.fs.SyncDir(l.dir) }); serr != nil && err == nil {
			err = fmt.Errorf("tlog: fsync directory %s: %w", l.dir, serr)
		}
	}
	l.mu.Lock()
	// Only RemoveThrough drops segments, and only from the front, so the
	// first `removed` entries are still the victims.
	l.segs = append(l.segs[:0], l.segs[removed:]...)
	l.stats.Segments = len(l.segs)
	l.stats.SegmentsGone += uint64(removed)
	if len(l.segs) > 0 {
		k := sort.Search(len(l.index), func(i int) bool { return l.index[i].FirstLSN >= l.segs[0].first })
		l.index = append(l.index[:0], l.index[k:]...)
	}
	l.mu.Unlock()
	return removed, err
}

// delSuffix marks a segment being removed (removeSegment): recovery does
// not read it, and Open removes what a crash left.
const delSuffix = ".del"

// removeSegment removes a segment that a checkpoint covers: renamed first
// to a name recovery ignores, then freed a few MiB at a time
// (vfs.RemoveGradually), so that the fsyncs of the active segment do not
// wait for 64 MiB of blocks to be freed (and trimmed) in one journal
// commit.
//
// A panic out of fs (a caller's own vfs.FS) is returned as an error
// wrapping ErrFilePanicked: RemoveThroughUntil runs on the bus's
// checkpointing goroutine, an automatic checkpoint's own, where the panic
// ended the process; as an error, the segment stays and the next
// checkpoint's prune tries again (TestRemoveThroughFSPanic).
func removeSegment(fs vfs.FS, path string, hurry func() bool) error {
	return guardFile("Remove", func() error {
		return vfs.RemoveGraduallyUntil(fs, path, path+delSuffix, vfs.RemoveStep, vfs.RemovePause, hurry)
	})
}

// removeLeftovers removes the segments a crash left half removed (and the
// copies vfs.Unshare left under the same names).
//
// What holds no file under such a name (a directory with files in it: an
// operator's, a restored backup tree; a named pipe) is passed over and
// left as it is: the log only ever renames segment files to it, so it is
// no leftover of the log's, and recovery reads no name of that kind.
// Before, the failed removal of a non-empty directory failed Open, with
// an error that named only its base name
// (TestOpenPassesOverLeftoverDirectory). A leftover file that cannot be
// removed (an I/O error, no permission) still fails Open: the same error
// would meet the log's own writes. The error names its path and what to
// do (TestOpenLeftoverRemoveFailsNamesPath).
func removeLeftovers(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		return fmt.Errorf("tlog: list %s: %w", dir, err)
	}
	for _, name := range names {
		if !strings.HasSuffix(name, ".log"+delSuffix) {
			continue
		}
		path := fs.Join(dir, name)
		err := fs.Remove(path)
		if err == nil || vfs.IsNotExist(err) {
			continue
		}
		if notFile(fs, path) {
			continue
		}
		return fmt.Errorf("tlog: remove %s, a log segment left half removed by a crash (it holds nothing recovery reads: remove it by hand): %w", path, err)
	}
	return nil
}

// notFile reports whether path holds something other than a file: a
// directory (EISDIR from vfs.MemFS), a named pipe, a dangling symbolic
// link (vfs.ErrNotRegular on the operating system's filesystem).
func notFile(fs vfs.FS, path string) bool {
	f, err := vfs.OpenRegular(fs, path)
	if err == nil {
		_ = f.Close() // opened only to look: nothing written
		return false
	}
	return errors.Is(err, vfs.ErrNotRegular) || errors.Is(err, syscall.EISDIR)
}

// Stats returns the log's counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.LastLSN = l.lastLSN
	s.DurableLSN = l.synced
	s.WrittenLSN = max(l.written, l.synced)
	if l.hasLast && len(l.segs) > 0 && l.segs[0].first <= l.lastLSN {
		s.OldestLSN = l.segs[0].first
	}
	return s
}

// syncFile fsyncs a segment, timing it when asked to (Options.FsyncNanos).
// Failed fsyncs are timed too: a slow failure is worth seeing.
// A Sync that panics is a failed fsync (panicError), as in writeFull.
func (l *Log) syncFile(f vfs.File) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError("Sync", v)
		}
	}()
	if l.fsyncNanos == nil {
		return f.Sync()
	}
	start := time.Now()
	err = f.Sync()
	l.fsyncNanos.Observe(int64(time.Since(start)))
	return err
}

// observeGroup records the size of one write's group of records.
func (l *Log) observeGroup(records int) {
	if l.groupRecords != nil && records > 0 {
		l.groupRecords.Observe(int64(records))
	}
}

// Close syncs and closes the log. After a failure it closes the file and
// returns the sticky error. Later calls return ErrClosed. It returns once
// the background flusher (SyncGroup) has stopped.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	var err error
	if l.f != nil {
		err = l.flushLocked(context.Background(), l.lastLSN, true)
		l.waitIdle()
		// Guarded: a panic here left mu locked, and the bus's Close, which
		// holds its own lock around this one, hung every later call.
		if cerr := guardFile("Close", l.f.Close); cerr != nil && err == nil {
			err = fmt.Errorf("tlog: close %s: %w", l.activePath(), cerr)
		}
		l.f = nil
	} else if l.err != nil {
		err = l.err
	}
	l.closed = true
	if l.stop != nil {
		close(l.stop)
	}
	l.mu.Unlock()
	// Outside mu: the flusher may be waiting for it before it sees stop.
	if l.flusherDone != nil {
		<-l.flusherDone
	}
	return err
}
