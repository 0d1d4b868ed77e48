package mmsb

// Fault-injection tests at bus level: every row of TestFaults injects one
// fault (through vfs/errorfs, or by damaging files between runs) and checks
// the outcome that docs/operations.md promises for it:
//
//   - a failed log write or fsync (or a full disk) fails the bus: the commit
//     returns ErrFailed wrapping the cause, every later write is refused, and
//     reads keep working;
//   - a failed checkpoint fails only that checkpoint;
//   - nothing acknowledged is lost: a crash image of the filesystem reopens
//     with every acknowledged batch present (under the sync mode's promise),
//     its state hash equal to the reference and to a replay of its log;
//   - nothing unacknowledged is half-applied: every batch of the workload
//     rewrites every page, so a recovered state shows one batch number on
//     every page;
//   - a torn tail is truncated and reported; a corrupt newest checkpoint is
//     skipped in favour of the older one; corruption before the tail fails
//     Open with ErrCorruption naming the segment and offset, and
//     Options.Repair truncates there and reports the drop.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// The fault workload: fPages pages of fPageSize bytes, created in one batch
// (LSNs 1..fPages); batch s (s >= 1) overwrites every page whole with
// fContent(s, page), taking LSNs fPages*s+1 .. fPages*(s+1). A page's first
// 8 bytes hold the batch number that last wrote it, so a recovered state
// names the batch it reflects, and a half-applied batch shows as pages that
// disagree.
const (
	fPages    = 4
	fPageSize = 256
	fMaxSeq   = 400 // batches the reference state hashes are computed for
	fSegBytes = 4096
)

func fContent(seq uint64, page int) []byte {
	b := make([]byte, fPageSize)
	if seq == 0 {
		return b // a new page is all zeros
	}
	binary.LittleEndian.PutUint64(b, seq)
	x := seq*0x9e3779b97f4a7c15 + uint64(page) + 1
	for k := 8; k < len(b); k++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[k] = byte(x)
	}
	return b
}

func fBatch(seq uint64) []delta.Delta {
	ds := make([]delta.Delta, fPages)
	for i := range ds {
		ds[i] = delta.Delta{Page: PageID(i + 1), Runs: []delta.Run{{Data: fContent(seq, i)}}}
	}
	return ds
}

// fSeqOfLSN returns the batch holding lsn (0 for the page creations).
func fSeqOfLSN(lsn LSN) uint64 { return (uint64(lsn) - 1) / fPages }

var (
	fRefOnce   sync.Once
	fRefHashes []uint64 // state hash after batch s, at index s
)

// fRef returns the state hash of the workload after batch seq, computed on
// a log-less in-memory bus, so a recovered bus can be compared with the
// state its batch number implies.
func fRef(t *testing.T, seq uint64) uint64 {
	t.Helper()
	fRefOnce.Do(func() {
		e := newDetached(nil, false)
		defer e.Close()
		specs := make([]PageSpec, fPages)
		for i := range specs {
			specs[i] = PageSpec{Size: fPageSize}
		}
		if _, err := e.CreatePages(ctx, specs); err != nil {
			panic(err)
		}
		fRefHashes = append(fRefHashes, hashOf(t, e))
		for s := uint64(1); s <= fMaxSeq; s++ {
			if _, err := e.Commit(ctx, fBatch(s)); err != nil {
				panic(err)
			}
			fRefHashes = append(fRefHashes, hashOf(t, e))
		}
	})
	if seq > fMaxSeq {
		t.Fatalf("batch %d beyond the %d reference states", seq, fMaxSeq)
	}
	return fRefHashes[seq]
}

// fRecoveredSeq returns the batch number every page of e shows, failing if
// the pages disagree (a half-applied batch) or any byte differs from what
// that batch wrote.
func fRecoveredSeq(t *testing.T, e *Bus) uint64 {
	t.Helper()
	var seq uint64
	for i := 0; i < fPages; i++ {
		b, _, err := e.ReadPage(PageID(i+1), nil)
		if err != nil {
			t.Fatalf("read page %d: %v", i+1, err)
		}
		s := binary.LittleEndian.Uint64(b)
		if i == 0 {
			seq = s
		} else if s != seq {
			t.Fatalf("half-applied batch: page 1 shows batch %d, page %d shows batch %d", seq, i+1, s)
		}
		if !bytes.Equal(b, fContent(s, i)) {
			t.Fatalf("page %d does not hold what batch %d wrote", i+1, s)
		}
	}
	return seq
}

// lazyInjector lets a row build its injector once the bus is set up (a disk
// limit relative to the usage at that moment, for example).
type lazyInjector struct {
	p atomic.Pointer[errorfs.Injector]
}

func (l *lazyInjector) set(inj errorfs.Injector) { l.p.Store(&inj) }

func (l *lazyInjector) MaybeError(op errorfs.Op) error {
	if p := l.p.Load(); p != nil {
		return (*p).MaybeError(op)
	}
	return nil
}

// faultEnv is one row's bus and what it has been told so far.
type faultEnv struct {
	t *testing.T
	// mem is the crash-simulating filesystem: the base itself, or, when
	// the row runs on the OS filesystem, a shadow that sees every
	// operation the OS sees (mirrorFS), for power-failure images.
	mem  *vfs.MemFS
	base vfs.FS // the filesystem under the injector
	dir  string
	lazy lazyInjector
	tog  *errorfs.Toggle
	fs   *errorfs.FS
	sync SyncMode
	e    *Bus

	acked   uint64 // last batch whose Commit returned nil
	durable uint64 // last batch known to survive a power failure
	ckpts   []checkpoint.Info
}

func newFaultEnv(t *testing.T, osFS bool, mode SyncMode) *faultEnv {
	env := &faultEnv{t: t, sync: mode, mem: vfs.NewMem()}
	if osFS {
		env.dir = t.TempDir()
		// The test's directory exists on the OS: make it exist, durably,
		// in the shadow too.
		if err := vfs.MkdirAllAndSync(env.mem, env.dir); err != nil {
			t.Fatal(err)
		}
		m := &mirrorFS{primary: vfs.Default, shadow: env.mem}
		env.base = m
		t.Cleanup(func() {
			if d := m.Differences(); len(d) > 0 {
				t.Errorf("the MemFS shadow diverged from the OS, so its crash images are meaningless: %q", d)
			}
		})
	} else {
		env.base, env.dir = env.mem, "/db"
	}
	env.tog = errorfs.NewToggle(&env.lazy)
	env.fs = errorfs.Wrap(env.base, env.tog)
	return env
}

func (env *faultEnv) options(fs vfs.FS) *Options {
	return &Options{FS: fs, Sync: env.sync, SegmentBytes: fSegBytes, CheckpointBytes: -1, Clock: testClock()}
}

// setup opens the bus through the injector and builds a history that
// recovery must walk: pages, two checkpoints (so the log before the older
// one is pruned), and batches after each.
func (env *faultEnv) setup() {
	t := env.t
	t.Helper()
	env.e = openT(t, env.dir, env.options(env.fs))
	specs := make([]PageSpec, fPages)
	for i := range specs {
		specs[i] = PageSpec{Size: fPageSize}
	}
	if _, err := env.e.CreatePages(ctx, specs); err != nil {
		t.Fatal(err)
	}
	env.commitN(6)
	env.checkpoint()
	env.commitN(6)
	env.checkpoint()
	env.commitN(3)
	first, err := firstLogLSN(env.base, env.e.WALDir())
	if err != nil || first <= 1 {
		t.Fatalf("setup: the log should have been pruned by the second checkpoint: first LSN %d, %v", first, err)
	}
}

func (env *faultEnv) commitN(n int) {
	env.t.Helper()
	for i := 0; i < n; i++ {
		if err := env.commit(); err != nil {
			env.t.Fatalf("commit of batch %d: %v", env.acked+1, err)
		}
	}
}

// commit commits the next batch and records it as acknowledged on success.
func (env *faultEnv) commit() error {
	seq := env.acked + 1
	info, err := env.e.Commit(ctx, fBatch(seq))
	if err != nil {
		return err
	}
	if want := LSN(fPages*seq + fPages); info.LastLSN != want {
		env.t.Fatalf("batch %d got LSNs %d..%d, want last %d", seq, info.FirstLSN, info.LastLSN, want)
	}
	env.acked = seq
	if env.sync != SyncNone {
		env.durable = seq
	}
	return nil
}

func (env *faultEnv) checkpoint() {
	env.t.Helper()
	info, err := env.e.Checkpoint(ctx)
	if err != nil {
		env.t.Fatalf("checkpoint: %v", err)
	}
	env.durable = env.acked // Checkpoint syncs the log first, in every mode
	env.ckpts = append(env.ckpts, checkpoint.Info{Path: info.Path, LSN: info.LSN})
}

// recovered opens dir on fs (no faults), checks that the state is whole
// batch seq with lo <= seq <= hi, equal to the reference and to a replay of
// the recovered log, and that the bus takes the next batch. It returns the
// engine (open) and seq.
func (env *faultEnv) recovered(fs vfs.FS, lo, hi uint64, what string) (*Bus, uint64) {
	t := env.t
	t.Helper()
	e, err := Open(env.dir, env.options(fs))
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	seq := fRecoveredSeq(t, e)
	if seq < lo || seq > hi {
		e.Close()
		t.Fatalf("%s: recovered batch %d, want %d..%d (acknowledged %d)", what, seq, lo, hi, env.acked)
	}
	if got, want := hashOf(t, e), fRef(t, seq); got != want {
		e.Close()
		t.Fatalf("%s: state hash %#x, reference for batch %d is %#x", what, got, seq, want)
	}
	if got, want := e.LastLSN(), LSN(fPages*seq+fPages); got != want {
		e.Close()
		t.Fatalf("%s: last LSN %d, want %d for batch %d", what, got, want, seq)
	}
	env.verifyReplay(e, what)
	// The recovered log must take new records (a torn tail cut cleanly).
	if _, err := e.Commit(ctx, fBatch(seq+1)); err != nil {
		e.Close()
		t.Fatalf("%s: commit after recovery: %v", what, err)
	}
	if got, want := hashOf(t, e), fRef(t, seq+1); got != want {
		e.Close()
		t.Fatalf("%s: state hash after a new batch %#x, want %#x", what, got, want)
	}
	env.verifyReplay(e, what+" (after a new batch)")
	return e, seq
}

func (env *faultEnv) verifyReplay(e *Bus, what string) {
	env.t.Helper()
	for _, newest := range []bool{false, true} {
		rep, err := e.VerifyReplay(ctx, newest)
		if skipped := e.Recovery().SkippedCheckpoint; newest && len(skipped) > 0 {
			// Recovery passed over a damaged newest checkpoint; a replay
			// asked to start from the newest must refuse and name it
			// rather than quietly start from somewhere else.
			damaged, _, _ := strings.Cut(skipped[0], ": ")
			if !errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), damaged) {
				env.t.Fatalf("%s: VerifyReplay(newest) over a damaged newest checkpoint (%s): %v, want ErrNoCheckpoint naming it", what, skipped[0], err)
			}
			continue
		}
		if d := e.Recovery().Log; !newest && d.CoveredDamage > 0 {
			// Recovery skipped a damaged record the newest checkpoint
			// covers: a replay through it must fail, naming it.
			if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), d.CoveredDamageFile) {
				env.t.Fatalf("%s: VerifyReplay from the oldest state over covered damage in %s: %v, want ErrCorruption naming it", what, d.CoveredDamageFile, err)
			}
			continue
		}
		if err != nil {
			env.t.Fatalf("%s: VerifyReplay(newest=%v): %v", what, newest, err)
		}
		if !rep.Equal() {
			env.t.Fatalf("%s: replay differs from recovered state (newest=%v): %+v", what, newest, rep)
		}
	}
}

// crashImages checks every power-failure image of the in-memory FS (strict,
// torn tails with and without zeroed bytes, unsynced directory entries kept
// or partly kept): each must recover a whole batch in lo..hi. Rows on the
// OS filesystem are checked too, on the shadow's images.
func (env *faultEnv) crashImages(lo, hi uint64, what string) (torn int) {
	env.t.Helper()
	if env.mem == nil {
		// OS rows once returned here, checking no image at all.
		env.t.Fatalf("%s: no crash-simulating filesystem, so no power-failure image", what)
	}
	images := []vfs.CrashOptions{{}}
	for seed := int64(1); seed <= 6; seed++ {
		images = append(images,
			vfs.CrashOptions{Seed: seed, TornTail: true},
			vfs.CrashOptions{Seed: seed, TornTail: true, ZeroTornTail: true, Entries: vfs.RandomUnsyncedEntries},
			vfs.CrashOptions{Seed: seed, Entries: vfs.KeepUnsyncedEntries})
	}
	for _, o := range images {
		img := env.mem.CrashCloneWith(o)
		e, _ := env.recovered(img, lo, hi, fmt.Sprintf("%s, crash image %+v", what, o))
		if e.Recovery().Log.TornBytes > 0 {
			torn++
		}
		e.Close()
	}
	return torn
}

// outcome is what docs/operations.md promises for a fault.
type outcome int

const (
	// stickyFailure: the failing call returns ErrFailed wrapping the cause;
	// every later write is refused, reads work; crash images and the
	// process-crash image recover every acknowledged batch.
	stickyFailure outcome = iota
	// checkpointFails: Checkpoint returns the cause; the bus goes on.
	checkpointFails
	// tornTail: a crash image with a partial last record (unsynced appends
	// under sync none) recovers a whole batch and reports the truncation.
	tornTail
	// checkpointFallback: the damaged newest checkpoint is skipped and
	// reported; the older one plus the log give the full state.
	checkpointFallback
	// openCorruption: Open fails with ErrCorruption naming the damaged
	// segment and offset; Repair truncates there and reports the drop.
	openCorruption
)

// faultRow is one fault.
type faultRow struct {
	name    string
	sync    SyncMode
	osFS    bool
	outcome outcome

	// inject builds the injected fault once the history is set up
	// (stickyFailure, checkpointFails).
	inject func(env *faultEnv) errorfs.Injector
	// byCheckpoint: the fault is met by Checkpoint rather than Commit.
	byCheckpoint bool
	// want is the cause the failing call's error must wrap.
	want error
	// torn: the process-crash image (the files as the failed bus left
	// them) holds a partial record, which reopening must truncate.
	torn bool

	// damage changes the files of a closed bus (checkpointFallback,
	// openCorruption). It returns the file and offset the corruption must
	// be reported at (openCorruption), and the batch recovery must show
	// under Repair.
	damage func(env *faultEnv) (file string, off int64, repairedSeq uint64)
}

func walFaults(kind errorfs.OpKind, err error) func(*faultEnv) errorfs.Injector {
	return func(*faultEnv) errorfs.Injector { return errorfs.OnPath("wal", errorfs.OnKind(kind, err)) }
}

func ckptFaults(path string, kind errorfs.OpKind, err error) func(*faultEnv) errorfs.Injector {
	return func(*faultEnv) errorfs.Injector { return errorfs.OnPath(path, errorfs.OnKind(kind, err)) }
}

// diskFull makes the in-memory disk full a few batches after setup.
func diskFull(env *faultEnv) errorfs.Injector {
	return errorfs.DiskFull(env.mem.Usage, env.mem.Usage()+3*fPages*fPageSize)
}

func TestFaults(t *testing.T) {
	rows := []faultRow{
		// A failed log write or fsync: sticky ErrFailed.
		{name: "log write fails/always", sync: SyncAlways, inject: walFaults(errorfs.OpWrite, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "log write fails/group", sync: SyncGroup, inject: walFaults(errorfs.OpWrite, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "short log write/always", sync: SyncAlways, inject: walFaults(errorfs.OpWrite, errorfs.ErrShortWrite), want: io.ErrShortWrite, torn: true},
		{name: "short log write/group", sync: SyncGroup, inject: walFaults(errorfs.OpWrite, errorfs.ErrShortWrite), want: io.ErrShortWrite, torn: true},
		{name: "log write lands but reports failure/group", sync: SyncGroup,
			inject: walFaults(errorfs.OpWrite, &errorfs.ShortWriteError{Keep: 1 << 30}), want: io.ErrShortWrite},
		{name: "log fsync fails/always", sync: SyncAlways, inject: walFaults(errorfs.OpSync, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "log fsync fails/group", sync: SyncGroup, inject: walFaults(errorfs.OpSync, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "log fsync fails in Checkpoint/none", sync: SyncNone, byCheckpoint: true,
			inject: walFaults(errorfs.OpSync, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "segment create fails at rotation/group", sync: SyncGroup, inject: walFaults(errorfs.OpCreate, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "wal directory fsync fails at rotation/always", sync: SyncAlways, inject: walFaults(errorfs.OpSyncDir, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "disk full/always", sync: SyncAlways, inject: diskFull, want: syscall.ENOSPC},
		{name: "disk full/group", sync: SyncGroup, inject: diskFull, want: syscall.ENOSPC},
		{name: "disk full/none", sync: SyncNone, inject: diskFull, want: syscall.ENOSPC},
		{name: "log fsync fails/os", sync: SyncGroup, osFS: true, inject: walFaults(errorfs.OpSync, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "short log write/os", sync: SyncAlways, osFS: true, inject: walFaults(errorfs.OpWrite, errorfs.ErrShortWrite), want: io.ErrShortWrite, torn: true},

		// A failed checkpoint fails only itself.
		{name: "checkpoint create fails", outcome: checkpointFails, inject: ckptFaults("checkpoints", errorfs.OpCreate, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "checkpoint disk full", outcome: checkpointFails, inject: ckptFaults(".ckpt.tmp", errorfs.OpWrite, errorfs.ErrNoSpace), want: syscall.ENOSPC},
		{name: "checkpoint short write", outcome: checkpointFails, inject: ckptFaults(".ckpt.tmp", errorfs.OpWrite, errorfs.ErrShortWrite), want: io.ErrShortWrite},
		{name: "checkpoint fsync fails", outcome: checkpointFails, inject: ckptFaults(".ckpt.tmp", errorfs.OpSync, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "checkpoint rename fails", outcome: checkpointFails, inject: ckptFaults("checkpoints", errorfs.OpRename, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "checkpoint directory fsync fails", outcome: checkpointFails, inject: ckptFaults("checkpoints", errorfs.OpSyncDir, errorfs.ErrInjected), want: errorfs.ErrInjected},
		{name: "checkpoint rename fails/os", osFS: true, outcome: checkpointFails, inject: ckptFaults("checkpoints", errorfs.OpRename, errorfs.ErrInjected), want: errorfs.ErrInjected},

		// Torn final record.
		{name: "torn final record/none", sync: SyncNone, outcome: tornTail},

		// Damaged files.
		{name: "newest checkpoint: flipped bit mid-file", outcome: checkpointFallback, damage: damageNewestCheckpoint(0.5)},
		{name: "newest checkpoint: flipped bit in header", outcome: checkpointFallback, damage: damageNewestCheckpoint(0)},
		{name: "newest checkpoint: flipped bit in trailer", outcome: checkpointFallback, damage: damageNewestCheckpoint(1)},
		{name: "newest checkpoint: truncated", outcome: checkpointFallback, damage: truncateNewestCheckpoint},
		{name: "newest checkpoint: flipped bit/os", osFS: true, outcome: checkpointFallback, damage: damageNewestCheckpoint(0.5)},
		{name: "log: flipped bit mid-log", outcome: openCorruption, damage: damageLogRecord(false)},
		{name: "log: flipped bit in a segment header", outcome: openCorruption, damage: damageLogRecord(true)},
		{name: "log: flipped bit mid-log/os", osFS: true, outcome: openCorruption, damage: damageLogRecord(false)},
		{name: "both checkpoints corrupt, log pruned", outcome: openCorruption, damage: damageBothCheckpoints},
	}
	for _, row := range rows {
		t.Run(strings.ReplaceAll(row.name, " ", "_"), func(t *testing.T) {
			env := newFaultEnv(t, row.osFS, row.sync)
			env.setup()
			switch row.outcome {
			case stickyFailure:
				runSticky(t, env, row)
			case checkpointFails:
				runCheckpointFault(t, env, row)
			case tornTail:
				runTornTail(t, env)
			case checkpointFallback:
				runCheckpointFallback(t, env, row)
			case openCorruption:
				runOpenCorruption(t, env, row)
			}
		})
	}
}

func runSticky(t *testing.T, env *faultEnv, row faultRow) {
	env.lazy.set(row.inject(env))
	env.tog.On()
	var err error
	attempted := env.acked
	if row.byCheckpoint {
		_, err = env.e.Checkpoint(ctx)
		if err == nil {
			t.Fatal("Checkpoint succeeded despite the fault")
		}
	} else {
		for i := 0; i < 50 && err == nil; i++ {
			attempted = env.acked + 1
			err = env.commit()
		}
		if err == nil {
			t.Fatalf("50 commits succeeded despite the fault (%d injected)", env.fs.Injected())
		}
	}
	if env.fs.Injected() == 0 {
		t.Fatalf("failed without an injected fault: %v", err)
	}
	if !errors.Is(err, ErrFailed) || !errors.Is(err, row.want) {
		t.Fatalf("error %v: want ErrFailed wrapping %v", err, row.want)
	}
	if !errors.Is(env.e.Err(), ErrFailed) {
		t.Fatalf("Err() = %v, want the sticky ErrFailed", env.e.Err())
	}
	// Sticky: with the fault gone, writes are still refused.
	env.tog.Off()
	if _, err := env.e.Commit(ctx, fBatch(attempted+1)); !errors.Is(err, ErrFailed) {
		t.Fatalf("commit after the failure: %v, want ErrFailed", err)
	}
	if _, err := env.e.CreatePage(ctx, PageSpec{Size: 8}); !errors.Is(err, ErrFailed) {
		t.Fatalf("CreatePage after the failure: %v, want ErrFailed", err)
	}
	if _, err := env.e.Checkpoint(ctx); !errors.Is(err, ErrFailed) {
		t.Fatalf("Checkpoint after the failure: %v, want ErrFailed", err)
	}
	if !env.e.Stats().Failed {
		t.Fatal("Stats().Failed is false")
	}
	// Reads work, and show the acknowledged batch or the failed one (group
	// mode applies a batch before waiting for its fsync), whole.
	if seq := fRecoveredSeq(t, env.e); seq != env.acked && seq != attempted {
		t.Fatalf("live state shows batch %d, want %d or %d", seq, env.acked, attempted)
	}
	if pages, err := env.e.Pages(); err != nil || len(pages) != fPages {
		t.Fatalf("Pages() lists %d pages (%v)", len(pages), err)
	}
	// Power failure now: everything durable survives; the failed batch may
	// or may not, but whole.
	env.crashImages(env.durable, attempted, "power failure after the fault")
	// Process crash (or a restart): the files as they are.
	env.e.Close()
	e, _ := env.recovered(env.base, env.acked, attempted, "reopen after the fault")
	defer e.Close()
	if row.torn {
		if rep := e.Recovery().Log; rep.TornBytes == 0 || !strings.HasSuffix(rep.TornFile, ".log") {
			t.Fatalf("partial record not reported as a torn tail: %+v", rep)
		}
	}
}

func runCheckpointFault(t *testing.T, env *faultEnv, row faultRow) {
	before := listCheckpoints(t, env.base, env.e.CheckpointDir())
	env.lazy.set(row.inject(env))
	env.tog.On()
	_, err := env.e.Checkpoint(ctx)
	if err == nil || !errors.Is(err, row.want) {
		t.Fatalf("Checkpoint: %v, want an error wrapping %v", err, row.want)
	}
	if errors.Is(err, ErrFailed) || env.e.Err() != nil {
		t.Fatalf("a failed checkpoint failed the bus: %v / Err() = %v", err, env.e.Err())
	}
	// No final or temporary file is left by the failed attempt.
	if after := listCheckpoints(t, env.base, env.e.CheckpointDir()); !equalStrings(before, after) {
		t.Fatalf("checkpoint directory after the failure: %v, before: %v", after, before)
	}
	// The bus goes on (the fault is still armed; it only hits checkpoints).
	env.commitN(3)
	env.crashImages(env.acked, env.acked, "power failure after a failed checkpoint")
	env.tog.Off()
	env.checkpoint()
	env.commitN(2)
	env.crashImages(env.acked, env.acked, "power failure after the next checkpoint")
	env.e.Close()
	e, _ := env.recovered(env.base, env.acked, env.acked, "reopen")
	defer e.Close()
	if got := e.Recovery().Checkpoint; got != env.ckpts[len(env.ckpts)-1].Path {
		t.Fatalf("recovered from checkpoint %q, want the newest %q", got, env.ckpts[len(env.ckpts)-1].Path)
	}
}

func runTornTail(t *testing.T, env *faultEnv) {
	// Under sync none, acknowledged batches are written but not fsynced: a
	// power failure may keep any prefix of them, cut anywhere.
	env.commitN(10)
	// Rotation fsyncs the finished segment, so only the last one's records
	// can tear: fill it with a few, so that a cut can fall after whole ones.
	for i := 0; i < 10 && env.activeSegmentBytes() < fSegBytes*2/3; i++ {
		env.commitN(1)
	}
	if env.durable == env.acked {
		t.Fatal("sync none: every batch already durable, nothing to tear")
	}
	torn := env.crashImages(env.durable, env.acked, "power failure with unsynced appends")
	if torn == 0 {
		t.Fatal("no crash image had a torn tail to truncate")
	}
	// A torn tail is reported with the segment and the offset it was cut at.
	for seed := int64(1); seed < 100; seed++ {
		img := env.mem.CrashCloneWith(vfs.CrashOptions{Seed: seed, TornTail: true})
		e, err := Open(env.dir, env.options(img))
		if err != nil {
			t.Fatal(err)
		}
		rep := e.Recovery().Log
		e.Close()
		if rep.TornBytes == 0 {
			continue
		}
		f, err := img.Open(rep.TornFile)
		if vfs.IsNotExist(err) && rep.TornOffset <= tlog.SegmentHeaderSize {
			continue // a segment torn before its first whole record: removed
		}
		if err != nil {
			t.Fatalf("torn file %q: %v", rep.TornFile, err)
		}
		size, _ := f.Size()
		f.Close()
		if size != rep.TornOffset {
			t.Fatalf("torn tail report %+v, but %s is %d bytes", rep, rep.TornFile, size)
		}
		return
	}
	t.Fatal("no seed gave a torn tail")
}

func runCheckpointFallback(t *testing.T, env *faultEnv, row faultRow) {
	env.commitN(4)
	if err := env.e.Close(); err != nil {
		t.Fatal(err)
	}
	row.damage(env)
	older, newest := env.ckpts[len(env.ckpts)-2], env.ckpts[len(env.ckpts)-1]
	e, _ := env.recovered(env.base, env.acked, env.acked, "fallback")
	defer e.Close()
	rec := e.Recovery()
	if rec.Checkpoint != older.Path || rec.CheckpointLSN != older.LSN {
		t.Fatalf("recovered from %q at LSN %d, want the older %q at %d", rec.Checkpoint, rec.CheckpointLSN, older.Path, older.LSN)
	}
	if len(rec.SkippedCheckpoint) != 1 || !strings.Contains(rec.SkippedCheckpoint[0], newest.Path) {
		t.Fatalf("SkippedCheckpoint = %q, want one entry naming %s", rec.SkippedCheckpoint, newest.Path)
	}
	if !strings.Contains(rec.SkippedCheckpoint[0], "checkpoint") {
		t.Fatalf("skipped checkpoint gives no reason: %q", rec.SkippedCheckpoint[0])
	}
}

func runOpenCorruption(t *testing.T, env *faultEnv, row faultRow) {
	env.commitN(8)
	if err := env.e.Close(); err != nil {
		t.Fatal(err)
	}
	file, off, repairedSeq := row.damage(env)
	_, err := Open(env.dir, env.options(env.base))
	if !errors.Is(err, ErrCorruption) {
		t.Fatalf("Open of a corrupt log: %v, want ErrCorruption", err)
	}
	if want := fmt.Sprintf("%s at offset %d", file, off); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %q", err, want)
	}
	var ce *CorruptionError
	if !errors.As(err, &ce) || ce.File != file || ce.Offset != off {
		t.Fatalf("error %v: want a *CorruptionError at %s offset %d", err, file, off)
	}
	if repairedSeq == 0 {
		// Nothing to repair from: Repair must fail the same way.
		if _, err := Open(env.dir, &Options{FS: env.base, Repair: true}); !errors.Is(err, ErrCorruption) {
			t.Fatalf("Repair open: %v, want ErrCorruption", err)
		}
		return
	}
	o := env.options(env.base)
	o.Repair = true
	e, err := Open(env.dir, o)
	if err != nil {
		t.Fatalf("Repair open: %v", err)
	}
	rep := e.Recovery().Log
	seq := fRecoveredSeq(t, e)
	e.Close()
	if rep.RepairedFile != file || rep.RepairedOffset != off || rep.DroppedRecords < 1 {
		t.Fatalf("Repair report %+v: want the drop at %s offset %d", rep, file, off)
	}
	if seq != repairedSeq {
		t.Fatalf("after Repair: batch %d, want %d (the one before the damage)", seq, repairedSeq)
	}
	if want := env.acked - repairedSeq; uint64(rep.DroppedRecords) != want {
		t.Fatalf("Repair dropped %d records, want %d", rep.DroppedRecords, want)
	}
	// Once repaired, the directory opens normally and checks clean.
	e2, _ := env.recovered(env.base, repairedSeq, repairedSeq, "after Repair")
	e2.Close()
	var problems []tlog.Problem
	if _, err := tlog.Check(env.base, env.fs.Join(env.dir, "wal"), nil, func(p tlog.Problem) { problems = append(problems, p) }); err != nil || len(problems) > 0 {
		t.Fatalf("tlog.Check after Repair: %v %+v", err, problems)
	}
}

// flipByte inverts one bit of the byte at off in path (negative off counts
// from the end) and returns the offset it changed.
func flipByte(t *testing.T, fs vfs.FS, path string, off int64) int64 {
	t.Helper()
	data := testutil.ReadFile(t, fs, path)
	if off < 0 {
		off += int64(len(data))
	}
	data[off] ^= 0x10
	writeAll(t, fs, path, data)
	return off
}

func writeAll(t *testing.T, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// damageNewestCheckpoint flips a bit at a fraction of the newest
// checkpoint's length (0: the header, 1: the last byte, in the trailer).
func damageNewestCheckpoint(frac float64) func(*faultEnv) (string, int64, uint64) {
	return func(env *faultEnv) (string, int64, uint64) {
		path := env.ckpts[len(env.ckpts)-1].Path
		size := int64(len(testutil.ReadFile(env.t, env.base, path)))
		off := int64(frac * float64(size-1))
		if frac == 0 {
			off = 13 // inside the LSN field
		}
		flipByte(env.t, env.base, path, off)
		return path, off, 0
	}
}

func truncateNewestCheckpoint(env *faultEnv) (string, int64, uint64) {
	path := env.ckpts[len(env.ckpts)-1].Path
	data := testutil.ReadFile(env.t, env.base, path)
	writeAll(env.t, env.base, path, data[:len(data)*2/3])
	return path, 0, 0
}

func damageBothCheckpoints(env *faultEnv) (string, int64, uint64) {
	for _, c := range env.ckpts[len(env.ckpts)-2:] {
		flipByte(env.t, env.base, c.Path, -30)
	}
	// With both checkpoints unusable, replay starts from an empty state at
	// the log's first record, which is not LSN 1: the history is missing.
	var first tlog.Record
	found := false
	_, err := tlog.Check(env.base, env.fs.Join(env.dir, "wal"), func(r *tlog.Record) error {
		if !found {
			first, found = *r, true
		}
		return nil
	}, nil)
	if err != nil || !found {
		env.t.Fatalf("scan log: %v (found %v)", err, found)
	}
	return first.File, first.Offset, 0
}

// damageLogRecord flips a bit in a record (or, with header, in the header
// of the segment holding it) that lies after the newest checkpoint and
// before the last segment, so that it is corruption before the tail, and
// returns where Open must report it and the batch Repair must leave.
func damageLogRecord(header bool) func(*faultEnv) (string, int64, uint64) {
	return func(env *faultEnv) (string, int64, uint64) {
		t := env.t
		type loc struct {
			file  string
			off   int64
			first LSN
		}
		var recs []loc
		infos, err := tlog.Check(env.base, env.fs.Join(env.dir, "wal"), func(r *tlog.Record) error {
			recs = append(recs, loc{r.File, r.Offset, r.FirstLSN})
			return nil
		}, func(p tlog.Problem) { t.Fatalf("log has problems before the damage: %+v", p) })
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) < 3 {
			t.Fatalf("want at least 3 segments, have %d", len(infos))
		}
		ckptLSN := env.ckpts[len(env.ckpts)-1].LSN
		lastSeg := infos[len(infos)-1].File
		for _, r := range recs {
			if r.first <= ckptLSN || r.file == lastSeg {
				continue
			}
			if header {
				if r.off != tlog.SegmentHeaderSize {
					continue // want the first record of a segment
				}
				flipByte(t, env.base, r.file, 3) // inside the magic
				return r.file, 0, fSeqOfLSN(r.first) - 1
			}
			if r.off == tlog.SegmentHeaderSize {
				continue // want a record in the middle of a segment
			}
			flipByte(t, env.base, r.file, r.off+tlog.FrameHeaderSize+7)
			return r.file, r.off, fSeqOfLSN(r.first) - 1
		}
		t.Fatalf("no suitable record after checkpoint LSN %d in %d records", ckptLSN, len(recs))
		return "", 0, 0
	}
}

// activeSegmentBytes returns the size of the last log segment.
func (env *faultEnv) activeSegmentBytes() int64 {
	env.t.Helper()
	wal := env.fs.Join(env.dir, "wal")
	names, err := env.base.List(wal)
	names = slices.DeleteFunc(names, func(n string) bool { return !isSegmentName(n) }) // not wal/newest-segment
	if err != nil || len(names) == 0 {
		env.t.Fatalf("list %s: %v", wal, err)
	}
	return int64(len(testutil.ReadFile(env.t, env.base, env.fs.Join(wal, names[len(names)-1]))))
}

func listCheckpoints(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestLogEndsBeforeCheckpoint: recovery can leave the log ending before the
// newest checkpoint's LSN, when the records it loses are ones the checkpoint
// already covers: a damaged last record (cut by Repair: without it Open
// refuses, the checkpoint proving the record durable, so no crash tore it:
// TestOpenRefusesTornTailBeforeCheckpoint). The
// state is whole (the checkpoint holds it), so the bus must open, take new
// commits, reopen and replay. It once failed its first commit ("append out
// of LSN order"): the log expected to continue from its own last LSN, the
// engine from the checkpoint's. With records after the damaged one (and
// Repair asked for), the damaged record is skipped since the checkpoint
// covers it, and nothing after it is lost (Repair cut the log there and
// dropped the records after the checkpoint: TestOpenSkipsCoveredDamage).
func TestLogEndsBeforeCheckpoint(t *testing.T) {
	for _, repair := range []bool{false, true} {
		t.Run(fmt.Sprintf("repair=%v", repair), func(t *testing.T) {
			env := newFaultEnv(t, false, SyncGroup)
			env.setup()
			env.commitN(2)
			env.checkpoint()
			if repair {
				// Records after the checkpoint, which Repair drops too.
				// (Without Repair the checkpoint is the last thing done, so
				// the damaged record is the last one: a torn tail.)
				env.commitN(3)
			}
			env.e.Close()
			ck := env.ckpts[len(env.ckpts)-1]
			// Damage the last record the checkpoint covers.
			var file string
			off := int64(-1)
			if _, err := tlog.Check(env.base, env.fs.Join(env.dir, "wal"), func(r *tlog.Record) error {
				if r.LastLSN() <= ck.LSN {
					file, off = r.File, r.Offset
				}
				return nil
			}, nil); err != nil || off < 0 {
				t.Fatalf("scan: %v", err)
			}
			flipByte(t, env.base, file, off+tlog.FrameHeaderSize+7)
			o := env.options(env.base)
			o.Repair = repair
			e, err := Open(env.dir, o)
			if !repair {
				if err == nil || !errors.Is(err, ErrCorruption) {
					t.Fatalf("open of a log whose last record, covered by the checkpoint, is damaged: %v; want ErrCorruption", err)
				}
				o.Repair = true
				e, err = Open(env.dir, o)
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			want := fSeqOfLSN(ck.LSN)
			if repair {
				want = env.acked // the records after the damaged one are kept
			}
			if seq := fRecoveredSeq(t, e); seq != want {
				t.Fatalf("recovered batch %d, want %d", seq, want)
			}
			rep := e.Recovery().Log
			if repair && (rep.CoveredDamage != 1 || rep.CoveredDamageFile != file || rep.RepairedFile != "") || !repair && rep.RepairedFile != file {
				t.Fatalf("damage at %s not reported: %+v", file, rep)
			}
			e.Close()
			env.acked = want
			e2, _ := env.recovered(env.base, env.acked, env.acked, "reopen")
			e2.Close()
			var problems []tlog.Problem
			if _, err := tlog.Check(env.base, env.fs.Join(env.dir, "wal"), nil, func(p tlog.Problem) { problems = append(problems, p) }); err != nil || len(problems) != map[bool]int{false: 0, true: 1}[repair] {
				t.Fatalf("tlog.Check: %v %+v", err, problems)
			}
		})
	}
}

// TestWaitLSNWokenByFailure: a WaitLSN already waiting when the bus fails
// (a log write fails, so nothing is logged and no commit wakes it) returns
// the failure. Before, it waited until its context ended.
func TestWaitLSNWokenByFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpWrite, errorfs.ErrInjected))
	bus, err := Open("/db", &Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	last := bus.LastLSN()
	waited := make(chan error, 1)
	go func() {
		_, err := bus.WaitLSN(ctx, last)
		waited <- err
	}()
	for bus.lsnWake.Load() == nil { // the waiter has registered
		if ctx.Err() != nil {
			t.Fatal("WaitLSN never registered")
		}
		runtime.Gosched()
	}
	tog.On()
	if _, err := bus.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Data: []byte("x")}}}}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Commit with failing writes = %v, want ErrFailed", err)
	}
	if err := <-waited; !errors.Is(err, ErrFailed) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("WaitLSN(%d) waiting when the bus failed = %v, want ErrFailed wrapping the injected error", last, err)
	}
}
