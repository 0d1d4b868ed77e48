package mmsb

// TestFaultSweep fails every filesystem operation of a workload in turn,
// one fault per run, and checks after each run what docs/operations.md and
// docs/crash.md promise: nothing acknowledged is lost (after a restart on
// the files as the failed bus left them, and in a power-failure image of
// them), a commit refused with a zero CommitInfo is absent, a bus that met
// a failed log write or fsync acknowledges nothing more, a failed
// checkpoint damages neither the log nor an earlier checkpoint, and the
// directory reopens without Repair to a whole batch that a replay of its
// log agrees with. TestFaults covers one fault of each kind with its exact
// outcome; this sweep covers every operation index of one workload.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// sweepFault is one kind of injected failure.
type sweepFault struct {
	name string
	err  error
	// write: injected on writes only; the others on every other operation.
	// (A plain failed write is the disk-full one with another cause.)
	write bool
}

var sweepFaults = []sweepFault{
	{name: "error", err: errorfs.ErrInjected},
	{name: "enospc", err: errorfs.ErrNoSpace, write: true},
	{name: "short", err: errorfs.ErrShortWrite, write: true},
	{name: "landed", err: &errorfs.ShortWriteError{Keep: 1 << 30}, write: true},
}

// nthInjector fails the operation with index k (counting every operation
// the bus makes, from Open on) with err, and records it. With k < 0 it
// fails nothing and only records the kinds of the operations it sees.
type nthInjector struct {
	k   int64
	err error

	n    atomic.Int64
	mu   sync.Mutex
	hit  *errorfs.Op
	seen []errorfs.OpKind
}

func (s *nthInjector) MaybeError(op errorfs.Op) error {
	i := s.n.Add(1) - 1
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.k < 0 {
		s.seen = append(s.seen, op.Kind)
		return nil
	}
	if i != s.k {
		return nil
	}
	o := op
	s.hit = &o
	return s.err
}

func (s *nthInjector) injected() *errorfs.Op {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hit
}

// critical reports whether op is a write or an fsync of a log segment (or
// of the log's directory): after it fails, the bus must acknowledge
// nothing more.
func sweepCritical(op *errorfs.Op) bool {
	if op == nil || !strings.Contains(op.Path, "/wal") {
		return false
	}
	switch op.Kind {
	case errorfs.OpWrite, errorfs.OpSync:
		return strings.HasSuffix(op.Path, ".log")
	}
	return false
}

// sweepModel is what the calls of one run told the caller.
type sweepModel struct {
	mode SyncMode
	// proc: the last batch a restart must show at least (acknowledged:
	// durable, or written to the OS under sync none); power: the last
	// batch a power failure must keep. -1: not even the pages.
	proc, power int64
	// ceiling: the last batch that may be in the log (its call succeeded,
	// or failed with a non-zero CommitInfo, which the docs allow to be
	// present).
	ceiling int64
	lastLSN map[int64]LSN // the last LSN of each batch that may be present
	logged  LSN           // the last LSN that may be in the log
	pending []int64       // async batches not yet waited for

	// faultImage is a power-failure image taken right after the call
	// during which the fault hit, and faultPower the batch it must keep:
	// a later successful fsync would otherwise cover a lost one.
	faultImage *vfs.MemFS
	faultPower int64
	faultCeil  int64

	failed   string // the first call that reported ErrFailed
	reopened bool   // the bus was reopened after the fault hit
	calls    []string
	problems []string
}

func (m *sweepModel) problemf(format string, args ...any) {
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

// sweepRun runs the workload once on fs (errorfs over mem) and returns the
// model. A panic is reported as a problem.
func sweepRun(t *testing.T, mode SyncMode, mem *vfs.MemFS, fs *errorfs.FS, inj *nthInjector) (m *sweepModel) {
	m = &sweepModel{mode: mode, proc: -1, power: -1, ceiling: -1, lastLSN: map[int64]LSN{}}
	var e *Bus
	defer func() {
		if r := recover(); r != nil {
			m.problemf("panic: %v\n%s", r, stack())
		}
		if e != nil {
			_ = e.Close()
		}
	}()
	// note records a call's outcome and checks the fail-closed rule: once
	// the bus reported ErrFailed, or a log write or fsync failed, nothing
	// may succeed any more.
	note := func(what string, ack bool, err error, hitBefore *errorfs.Op) {
		switch {
		case m.failed == "" || err == nil:
			m.calls = append(m.calls, fmt.Sprintf("%s: %v", what, err))
		case !strings.HasSuffix(m.calls[len(m.calls)-1], ": refused"):
			m.calls = append(m.calls, what+"...: refused")
		}
		if err == nil && ack {
			if m.failed != "" {
				m.problemf("%s succeeded after %s reported ErrFailed", what, m.failed)
			}
			if sweepCritical(hitBefore) && !m.reopened {
				m.problemf("%s succeeded after a failed %s", what, hitBefore)
			}
		}
		if errors.Is(err, ErrFailed) && m.failed == "" {
			m.failed = what
		}
		if hit := inj.injected(); hitBefore == nil && hit != nil && err != nil && !errors.Is(err, inj.err) {
			m.problemf("%s failed during the injected fault on %s with an error that does not wrap it: %v", what, hit, err)
		}
		if hit := inj.injected(); sweepCritical(hit) && ack && !m.reopened && e != nil && !strings.HasPrefix(what, "Close") && what != "Open" {
			// Failed closed, and says so: the call's error and Err. Not
			// checked after a CommitAsync (ack false): under sync group
			// the background flusher may meet the fault while the call
			// returns and fail the bus a moment later, which the next
			// waiting call (WaitDurable) observes and is checked for.
			// (Checked there too, this failed under qemu-arm, where the
			// flusher's write landed in that moment: scheduling, not a
			// defect.)
			if err != nil && !errors.Is(err, ErrFailed) {
				m.problemf("%s after a failed %s: %v, want ErrFailed", what, hit, err)
			}
			if berr := e.Err(); !errors.Is(berr, ErrFailed) {
				m.problemf("Err() after %s met a failed %s: %v, want ErrFailed", what, hit, berr)
			}
		}
		if hit := inj.injected(); hitBefore == nil && sweepCritical(hit) {
			if err == nil && ack {
				m.problemf("%s succeeded although its %s failed", what, hit)
			}
		}
	}
	// mark ends a call: the first one the fault hit leaves its image.
	mark := func() {
		if m.faultImage == nil && inj.injected() != nil {
			m.faultImage, m.faultPower, m.faultCeil = mem.CrashClone(), m.power, m.ceiling
		}
	}
	o := &Options{FS: fs, Sync: mode, SegmentBytes: fSegBytes, CheckpointBytes: -1, Clock: testClock(), LazyPageMemory: true}
	var err error
	e, err = Open("/db", o)
	note("Open", true, err, nil)
	mark()
	if err != nil {
		e = nil
		return m
	}
	specs := make([]PageSpec, fPages)
	for i := range specs {
		specs[i] = PageSpec{Size: fPageSize}
	}
	before := inj.injected()
	_, err = e.CreatePages(ctx, specs)
	note("CreatePages", true, err, before)
	if err == nil {
		m.proc, m.ceiling, m.lastLSN[0], m.logged = 0, 0, fPages, fPages
		if mode != SyncNone {
			m.power = 0
		}
	} else if errors.Is(err, ErrFailed) {
		// Applied, then failed to become durable, or its own log write
		// failed: may be present (CreatePages' documentation).
		m.ceiling, m.lastLSN[0], m.logged = 0, fPages, fPages
	}
	mark()
	if m.ceiling < 0 {
		return m // no pages to write
	}
	seq := int64(0)
	commit := func(async bool) {
		seq++
		what := fmt.Sprintf("Commit(%d)", seq)
		if async {
			what = fmt.Sprintf("CommitAsync(%d)", seq)
		}
		before := inj.injected()
		var info CommitInfo
		if async {
			info, err = e.CommitAsync(ctx, fBatch(uint64(seq)))
		} else {
			info, err = e.Commit(ctx, fBatch(uint64(seq)))
		}
		note(what, !async, err, before)
		if info != (CommitInfo{}) {
			if info.FirstLSN != m.logged+1 || info.LastLSN != info.FirstLSN+fPages-1 {
				m.problemf("%s got LSNs %d..%d, want %d..%d", what, info.FirstLSN, info.LastLSN, m.logged+1, m.logged+fPages)
			}
			m.ceiling, m.lastLSN[seq], m.logged = seq, info.LastLSN, info.LastLSN
		} else if err == nil {
			m.problemf("%s succeeded with a zero CommitInfo", what)
		} else if errors.Is(err, ErrFailed) && inj.injected() != before {
			// The fault hit this call: not applied, but its own log write
			// or fsync may have failed after the record reached the file,
			// so it may be present (Commit's documentation), at the LSNs
			// it would have had. A call refused by a bus that had already
			// failed must not be.
			m.ceiling, m.lastLSN[seq], m.logged = seq, m.logged+fPages, m.logged+fPages
		}
		switch {
		case err != nil:
		case async:
			m.pending = append(m.pending, seq)
		default:
			m.proc = seq
			if mode != SyncNone {
				m.power = seq
			}
		}
		mark()
	}
	waitDurable := func() {
		if len(m.pending) == 0 {
			return
		}
		last := m.pending[len(m.pending)-1]
		before := inj.injected()
		err := e.WaitDurable(ctx, m.lastLSN[last])
		note(fmt.Sprintf("WaitDurable(%d)", last), true, err, before)
		if err == nil {
			m.proc = max(m.proc, last)
			if mode != SyncNone {
				m.power = max(m.power, last)
			}
		}
		m.pending = m.pending[:0]
		mark()
	}
	// synced: a call that fsyncs the log (everything acknowledged before it
	// survives a power failure once it returns nil).
	synced := func(what string, call func() error) {
		before := inj.injected()
		acked := m.proc
		err := call()
		note(what, true, err, before)
		if err == nil {
			m.power = max(m.power, acked)
		}
		mark()
	}
	checkpoint := func() {
		synced("Checkpoint", func() error {
			_, err := e.Checkpoint(ctx)
			return err
		})
	}
	for i := 0; i < 3; i++ {
		commit(false)
	}
	commit(true)
	commit(true)
	waitDurable()
	checkpoint()
	for i := 0; i < 4; i++ {
		commit(false)
	}
	checkpoint() // trims the log up to the first checkpoint
	commit(false)
	commit(true)
	waitDurable()
	synced("Flush", func() error { return e.Flush(ctx) })
	commit(false)
	checkpoint() // removes the first checkpoint
	commit(false)
	commit(true) // left to Close
	synced("Close", func() error { return e.Close() })
	e = nil

	// A restart through the same faulty filesystem: recovery's own
	// operations (torn tails cut, temporary files removed, a checkpoint
	// loaded, the log replayed) are swept too. Earlier failures belonged
	// to the bus before.
	m.failed, m.reopened = "", inj.injected() != nil
	before = inj.injected()
	e, err = Open("/db", o)
	note("reopen", true, err, before)
	if err != nil {
		e = nil
		mark()
		return m
	}
	if _, ok := sweepState(m, e, m.proc, m.ceiling, "reopen through the faulty filesystem"); !ok {
		return m
	}
	m.logged = e.LastLSN()
	mark()
	commit(false)
	synced("Close after reopen", func() error { return e.Close() })
	e = nil
	return m
}

// sweepCheckReopen opens fs (no faults) and checks that it shows a whole
// batch in lo..m.ceiling with the LSNs that batch was given, that replays
// agree, that every checkpoint verifies and the log checks clean after a
// new commit, and that no checkpoint was skipped and nothing repaired.
// light skips the replays and the new commit (the torn-tail image: its
// state and files are still checked).
func sweepCheckReopen(m *sweepModel, fs vfs.FS, lo, hi int64, what string, light bool) {
	e, err := Open("/db", &Options{FS: fs, SegmentBytes: fSegBytes, CheckpointBytes: -1, Clock: testClock(), LazyPageMemory: true})
	if err != nil {
		m.problemf("%s: reopen: %v", what, err)
		return
	}
	defer func() {
		if e != nil {
			e.Close()
		}
	}()
	if rec := e.Recovery(); len(rec.SkippedCheckpoint) > 0 || rec.Log.RepairedFile != "" {
		m.problemf("%s: recovery skipped a checkpoint or repaired the log: %+v", what, rec)
	}
	seq, ok := sweepState(m, e, lo, hi, what)
	if !ok {
		return
	}
	for _, newest := range []bool{false, true} {
		if light {
			break
		}
		rep, err := e.VerifyReplay(ctx, newest)
		if errors.Is(err, ErrNoCheckpoint) && e.Recovery().Checkpoint == "" {
			continue
		}
		if err != nil || !rep.Equal() {
			m.problemf("%s: VerifyReplay(newest=%v): %v %+v", what, newest, err, rep)
		}
	}
	if seq >= 0 && !light {
		if _, err := e.Commit(ctx, fBatch(uint64(seq+1000))); err != nil {
			m.problemf("%s: commit after recovery: %v", what, err)
		}
	}
	if err := e.Close(); err != nil {
		m.problemf("%s: close after recovery: %v", what, err)
	}
	e = nil
	if _, err := tlog.Check(fs, "/db/wal", nil, func(p tlog.Problem) {
		m.problemf("%s: log problem after recovery: %+v", what, p)
	}); err != nil {
		m.problemf("%s: tlog.Check: %v", what, err)
	}
	names, err := fs.List("/db/checkpoints")
	if err != nil {
		m.problemf("%s: list checkpoints: %v", what, err)
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".ckpt") {
			continue
		}
		if err := checkpoint.Verify(fs, "/db/checkpoints/"+n); err != nil {
			m.problemf("%s: %v", what, err)
		}
	}
}

// sweepState reads e's pages and checks that they show one whole batch in
// lo..hi (-1: no pages) at the LSN that batch was given. ok is false when
// it found a problem.
func sweepState(m *sweepModel, e *Bus, lo, hi int64, what string) (seq int64, ok bool) {
	// (Pages() would do, but costs a scan of the page index per call.)
	n := 0
	for id := PageID(1); id <= fPages+1; id++ {
		if _, err := e.Page(id); err == nil {
			n++
		} else if !errors.Is(err, ErrPageNotFound) {
			m.problemf("%s: page %d: %v", what, id, err)
			return 0, false
		}
	}
	seq = -1
	switch n {
	case 0:
	case fPages:
		for i := 0; i < fPages; i++ {
			b, _, err := e.ReadPage(PageID(i+1), nil)
			if err != nil {
				m.problemf("%s: read page %d: %v", what, i+1, err)
				return 0, false
			}
			s := int64(binary.LittleEndian.Uint64(b))
			if i == 0 {
				seq = s
			} else if s != seq {
				m.problemf("%s: half-applied batch: page 1 shows batch %d, page %d batch %d", what, seq, i+1, s)
				return 0, false
			}
			if !bytes.Equal(b, fContent(uint64(s), i)) {
				m.problemf("%s: page %d does not hold what batch %d wrote", what, i+1, s)
				return 0, false
			}
		}
	default:
		m.problemf("%s: %d of pages 1..%d, want 0 or %d", what, n, fPages+1, fPages)
		return 0, false
	}
	if seq < lo || seq > hi {
		m.problemf("%s: recovered batch %d, want %d..%d (-1: no pages)", what, seq, lo, hi)
		return 0, false
	}
	want := LSN(0)
	if seq >= 0 {
		var known bool
		if want, known = m.lastLSN[seq]; !known {
			m.problemf("%s: recovered batch %d, whose commit failed before it was logged", what, seq)
			return 0, false
		}
	}
	if got := e.LastLSN(); got != want {
		m.problemf("%s: last LSN %d, want %d (batch %d)", what, got, want, seq)
		return 0, false
	}
	return seq, true
}

func stack() string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// sweepOne runs the workload with the operation at index k failing with f
// and returns the problems found.
func sweepOne(t *testing.T, mode SyncMode, k int64, f sweepFault) (*sweepModel, *errorfs.Op) {
	mem := vfs.NewMem()
	inj := &nthInjector{k: k, err: f.err}
	fs := errorfs.Wrap(mem, inj)
	m := sweepRun(t, mode, mem, fs, inj)
	// The power-failure image is taken from the files the bus left; the
	// restart reopens those files themselves.
	img := mem.CrashClone()
	torn := mem.CrashCloneWith(vfs.CrashOptions{Seed: k, TornTail: true, Entries: vfs.RandomUnsyncedEntries})
	sweepCheckReopen(m, mem, m.proc, m.ceiling, "restart", false)
	sweepCheckReopen(m, img, m.power, m.ceiling, "power failure", false)
	sweepCheckReopen(m, torn, m.power, m.ceiling, "power failure, torn tail", true)
	if m.faultImage != nil {
		sweepCheckReopen(m, m.faultImage, m.faultPower, m.faultCeil, "power failure right after the faulted call", true)
	}
	return m, inj.injected()
}

func TestFaultSweep(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	runs, stride := 0, int64(1)
	if testing.Short() {
		stride = 3
	}
	for _, mode := range []SyncMode{SyncAlways, SyncGroup, SyncNone} {
		t.Run(mode.String(), func(t *testing.T) {
			// Count the operations of a run without faults.
			counter := &nthInjector{k: -1}
			mem := vfs.NewMem()
			m := sweepRun(t, mode, mem, errorfs.Wrap(mem, counter), counter)
			if len(m.problems) > 0 {
				t.Fatalf("run without faults: %q", m.problems)
			}
			if m.proc != 15 || m.power != 15 {
				t.Fatalf("run without faults acknowledged batch %d (%d durable), want 15: %q", m.proc, m.power, m.calls)
			}
			// A workload that misses a kind sweeps nothing of it.
			kinds := counter.seen
			count := map[errorfs.OpKind]int{}
			for _, k := range kinds {
				count[k]++
			}
			for _, k := range []errorfs.OpKind{errorfs.OpCreate, errorfs.OpOpen, errorfs.OpWrite, errorfs.OpSync,
				errorfs.OpSyncDir, errorfs.OpRename, errorfs.OpRemove, errorfs.OpList, errorfs.OpRead} {
				if count[k] == 0 {
					t.Fatalf("the workload makes no %s operation: %v", k, count)
				}
			}
			reported := 0
			for k := int64(0); k < int64(len(kinds)); k += stride {
				for _, f := range sweepFaults {
					if f.write != (kinds[k] == errorfs.OpWrite) {
						continue
					}
					m, hit := sweepOne(t, mode, k, f)
					runs++
					if len(m.problems) > 0 && reported < 10 {
						reported++
						t.Errorf("operation %d (%v) failing with %s: %s\ncalls: %s", k, hit, f.name, strings.Join(m.problems, "\n  "), strings.Join(m.calls, "; "))
					}
				}
			}
			t.Logf("%s: %d operations in the workload", mode, len(kinds))
		})
	}
	t.Logf("%d runs", runs)
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after the sweep, %d before:\n%s", n, goroutines, stack())
	}
}
