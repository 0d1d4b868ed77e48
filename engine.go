// This file holds the Bus: the MMSB state machine and its durable shell: the page
// store, the dependency graph, derived-page bindings and flags, driven by
// logged operations. Every mutation is validated, encoded into one log
// record (a batch of operations with contiguous LSNs), appended to the
// transaction log, and only then applied, so the in-memory state is always a
// prefix of the log. Recovery replays the same operations through the same
// apply code.

package mmsb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// Page flags raised by non-data edges.
const (
	FlagStale       uint8 = 1 << 0 // a Control-edge parent changed
	FlagSyncPending uint8 = 1 << 1 // a GPU-sync-edge parent changed
	FlagIRInvalid   uint8 = 1 << 2 // a Compiler-edge parent changed
)

// FlagNames renders flag bits as "stale|sync-pending|ir-invalid" ("none"
// for 0); bits without a name follow in hex ("stale|0x80").
func FlagNames(f uint8) string {
	if f == 0 {
		return "none"
	}
	s := ""
	add := func(bit uint8, name string) {
		if f&bit != 0 {
			if s != "" {
				s += "|"
			}
			s += name
		}
	}
	add(FlagStale, "stale")
	add(FlagSyncPending, "sync-pending")
	add(FlagIRInvalid, "ir-invalid")
	if rest := f &^ (FlagStale | FlagSyncPending | FlagIRInvalid); rest != 0 {
		add(rest, fmt.Sprintf("0x%x", rest))
	}
	return s
}

// TypeMetaKey is the metadata key declaring a page's element type: "f64",
// "i64" or "bool". SetMetadata and CreatePages store any value, as for any
// key; the invariants validator (so `mmsb check`) reports a page declaring
// another one ("F64", "float64"), whose values no check reads as a type:
// a typo turned the NaN/Inf invariant off without a word. The validators
// read it (the NaN/Inf invariant and the L2 distance of a replay
// comparison look at "f64" pages only) and the inspector shows it; Bind
// and the built-in functions do not (a binding is checked against the
// pages' sizes).
const TypeMetaKey = "mmsb.type"

// defaultCheckpointBytes is Options.CheckpointBytes's default.
const defaultCheckpointBytes = 256 << 20

// defaultCheckpointWriteRate is Options.CheckpointWriteRate's default.
const defaultCheckpointWriteRate = 64 << 20

// Options configure a Bus. The zero value is usable.
type Options struct {
	// FS is the filesystem (default vfs.Default; in-memory buses use a
	// private vfs.NewMem()).
	FS vfs.FS
	// Sync is the log's sync mode (default group). Another value is
	// ErrInvalidOption.
	Sync SyncMode
	// SegmentBytes is the log segment size (0 or negative: 64 MiB; 4 MiB
	// for an in-memory bus). A positive size below 64 bytes, too small for
	// a segment's header and one record, is ErrInvalidOption.
	SegmentBytes int64
	// CheckpointBytes: take a checkpoint automatically once the log has
	// grown this much since the last one (0: 256 MiB; negative: never).
	// Log segments are removed only once a checkpoint covers them, so while
	// checkpoints fail the log grows: a failed automatic checkpoint is
	// retried after another CheckpointBytes of log (or CheckpointInterval),
	// and once the log has grown by checkpointStallFactor (4) times
	// CheckpointBytes (or the default, when only CheckpointInterval is set)
	// since the last successful checkpoint, writes are refused with
	// ErrCheckpointFailing until a checkpoint succeeds (each refused write
	// starts a retry). Stats counts the failures and keeps the last error.
	CheckpointBytes int64
	// CheckpointInterval: take a checkpoint automatically this often, at
	// the next commit (0 or negative: never).
	CheckpointInterval time.Duration
	// CheckpointWriteRate limits how fast a checkpoint of a bus in a
	// directory writes, in bytes per second (0: 64 MiB/s; negative: as
	// fast as the device takes them). Every log sync also flushes what the
	// checkpoint wrote since the sync before, so a checkpoint at the
	// device's full speed slows every commit that waits for a sync: on
	// the 2-core VM's disk (about 190 MB/s), a 25 KB append and fdatasync
	// took 0.45 ms at the median alone and with 64 MB/s of other writes,
	// but 1.4 ms with 128 MB/s and 3.1-3.9 ms at full speed
	// (docs/benchmarks.md). The price is time: a 1 GiB checkpoint takes at
	// least 16 s at the default, and the log it will let go grows
	// meanwhile. A positive rate below MinCheckpointWriteRate is
	// ErrInvalidOption. An in-memory bus's checkpoints are not paced.
	CheckpointWriteRate int64
	// Clock returns the time stamped on commits, in ns since the Unix
	// epoch (default time.Now). Tests inject a deterministic clock. A
	// panic in it fails the call that stamps (a commit, a control
	// operation, a wave) with ErrInvalidOption, which logs nothing.
	// It is called with the bus's write lock held, so it must not call
	// the bus (Stats, a read, a commit: each deadlocks it for good), and
	// should return quickly. A time earlier than the last one stamped is
	// raised to it: stamped times never decrease along the log.
	Clock func() int64
	// Repair: truncate the log at corruption (reporting what was dropped)
	// instead of failing Open; it also opens a directory whose wal/ was
	// removed at its newest checkpoint (ErrCorruption without it), and so
	// does the package-level Replay.
	Repair bool
	// Functions are recompute functions available to bindings, by name, in
	// addition to the built-ins of internal/semiring (one of the same name
	// replaces the built-in; docs/semiring.md lists them: f64.sum,
	// passthrough, ...). A nil function is ErrInvalidOption.
	Functions map[string]RecomputeFunc
	// AllowMissingFunctions lets Open succeed when bindings name
	// unregistered functions (offline tools); such pages are listed in
	// Recovery().MissingFunctions and propagation to them fails.
	AllowMissingFunctions bool
	// Workers is the number of goroutines that check and apply a large
	// batch (256 deltas or more; 0 or negative: 1). With more than one, a batch's
	// bytes are copied into its pages by a helper after Commit returns,
	// while the caller builds its next batch: Commit has validated, logged
	// and stamped the batch (page epochs, the deltas' LSN, Epoch and Time),
	// and every read of the bus waits for that copy, so a read after
	// Commit sees the batch as with one worker. The state is the same for
	// every worker count. Not pipelined, and applied before Commit
	// returns: batches with masked deltas, batches committed while a
	// checkpoint runs, and every batch of a shared-memory bus, of a bus
	// with a Replicator, or of a build with the invariants tag. At most
	// MaxWorkers (more is ErrInvalidOption: each worker is a goroutine and
	// per-worker state made at Open).
	Workers int
	// LazyPageMemory maps page memory lazily: the OS faults each page of
	// memory in at its first write instead of when the page is created.
	// By default page memory is pre-faulted when pages are created
	// (MADV_POPULATE_WRITE on Linux 5.14+, else one write per OS page), so
	// that the first commits and ticks after creating pages do not stall on
	// page faults, which a first write to a huge page makes long (measured:
	// a 1.5-2.2 s first commit after creating 1M pages lazily, docs/
	// benchmarks.md). The price of the default: creating pages costs about
	// 0.1-0.3 s per GiB more (1.6 s on a VM where the first access to
	// each mapped page costs ~6 µs, which creation then pays too), and
	// created but never written pages are resident. Set this for buses
	// that create many more pages than they write. Pre-faulted page
	// memory is bounded by the machine's memory (RAM, or the cgroup's
	// memory.max when smaller): a create whose pages, with those live,
	// add up to more is ErrNoSpace before anything is mapped, where it
	// ended the process out of memory; a lazy bus is not bounded. With Shared, the
	// tmpfs space of page memory is still allocated when pages are
	// created (fallocate; only the mapping is lazy): a full tmpfs is then
	// ErrNoSpace from the create, where a sparse file raised SIGBUS at a
	// later write.
	LazyPageMemory bool
	// HugePages asks for transparent huge pages (MADV_HUGEPAGE) for the
	// anonymous memory that holds page bytes (shared-mode chunks always ask).
	// Huge pages cut TLB misses of deltas to random pages (3.3-3.7M vs
	// 2.0-2.2M deltas/s at 1M pages in docs/benchmarks.md), but creating
	// pages then waits for the kernel to find and zero 2 MiB pages (2-3 s
	// per GiB when memory is fragmented), and Go GC pauses during it grew to
	// 2-7 ms (mmsb validate #7, target < 3 ms), so they are opt-in. With
	// lazy page memory each first write faults in 2 MiB at once.
	HugePages bool
	// DisableLog runs with no log at all (detached replay targets only):
	// nothing is durable and replay, provenance from the log and
	// VerifyReplay are unavailable (QueryLog, and Bus.Replay and ReadPageAt
	// of any state but one a checkpoint holds, are ErrLogTruncated;
	// VerifyReplay is ErrInvalidOption). An in-memory bus (dir "") keeps its log
	// in memory unless this is set. A directory whose log holds an
	// operation past the checkpoint Open loads is refused
	// (ErrInvalidOption): the bus would ignore it and commit over its LSN.
	// A log whose every record that checkpoint covers is removed, and with
	// it the history before the checkpoint (Replay from an older one,
	// ReadPageAt of older LSNs); nothing committed is lost. A newest
	// checkpoint that does not load is ErrCorruption (nothing leads past
	// the older one; Repair accepts the loss). The bus leaves
	// an empty wal/ and records "no log" in checkpoints/log-mode, so that
	// its directory reads as its checkpoints' state to Open with a log,
	// Replay and the CLI. To the package-level Replay it says that the directory
	// was written without a log: its checkpoints without wal/ (as written
	// before 2026-12-06) are not refused.
	DisableLog bool
	// MemoryCheckpoints keeps an in-memory bus's checkpoints in its private
	// in-memory filesystem, beside its log. By default they are unnamed
	// temporary files in os.TempDir (vfs.Scratch: never fsynced; the kernel
	// frees them once the bus is garbage collected or the process ends,
	// however it ends), so that the kernel's page cache holds them and can
	// write them out and reclaim the memory when it needs it: the bus's own
	// memory is then its pages, the log since its last checkpoint and the
	// undo records of a running checkpoint (issue 15; figures in
	// docs/benchmarks.md). Set this when the bus may write no file; the
	// price is a whole copy of the state in RAM, two while a checkpoint is
	// written beside the last one. A bus that cannot make a file in $TMPDIR
	// when it opens does the same by itself; one whose $TMPDIR goes away
	// later gets checkpoint errors that name this option. A $TMPDIR on
	// tmpfs is RAM as well. Has no effect on a bus in a directory.
	MemoryCheckpoints bool
	// HistoryEntries sizes the in-memory write-history ring that answers
	// provenance queries without reading the log (24 bytes per entry,
	// rounded up to a power of two; default 4096, small enough to stay in
	// cache on the commit hot path; negative disables it; more than
	// MaxHistoryEntries is ErrInvalidOption). Older history is read from
	// the log.
	HistoryEntries int
	// Shared puts the page bytes and a page table in shared memory (files
	// on tmpfs, MAP_SHARED) so that other processes can read committed
	// pages with OpenReader (docs/shm.md). Off by default. Needs an
	// on-disk bus (dir != "") on the OS filesystem. The region is rebuilt
	// at every Open; the log and checkpoints stay the only truth.
	Shared bool
	// SharedDir is the tmpfs directory that holds shared regions (default
	// /dev/shm). Readers must be given the same directory.
	SharedDir string
	// SharedGroup makes the shared files readable by the owner's group
	// (mode 0640, directory 0750) instead of the owner only (0600, 0700).
	SharedGroup bool
	// Replicator receives every committed record in log order, with the
	// rolling state hash after it (replication.go, docs/replication.md).
	// With Sync SyncReplicated a commit waits for it to store the record.
	Replicator Replicator
	// Follower opens the bus read-only for clients: writes return
	// ErrFollower and the state changes only through ApplyReplicated, with
	// the leader's records. Reads, StateHash, checkpoints and the
	// shared-memory readers work as usual.
	Follower bool
}

// Recovery reports what Open did. For a bus that Replay or Bus.Replay
// returned, Checkpoint and CheckpointLSN say where the replay started
// (""/0: from LSN 1), and SkippedCheckpoint which checkpoints it passed
// over because they did not load.
type Recovery struct {
	Checkpoint        string        // checkpoint loaded ("" if none)
	CheckpointLSN     LSN           // LSN it covered
	SkippedCheckpoint []string      // newer checkpoints that failed to load, and names under a checkpoint's pattern that hold no checkpoint file (a directory, a named pipe), with reasons
	ReplayedOps       uint64        // log operations applied after the checkpoint
	Log               LogRecovery   // the log's recovery: torn tail truncated, covered damage skipped, what Options.Repair dropped
	MissingFunctions  []string      // "page N: fn" for bindings without a registered function
	Duration          time.Duration // wall time Open spent recovering (checkpoint load and log replay)
}

// Binding ties a derived page to a recompute function and ordered parents.
type Binding struct {
	Func    string
	Params  []byte
	Parents []PageID
}

// Bus is an open MMSB bus: the pages, the dependency graph and bindings,
// and the transaction log that records every change to them. Open or
// Replay returns one; Close releases it. Its methods are safe for
// concurrent use. Only Open, Replay and Bus.Replay make a Bus: a zero
// Bus (var b Bus, new(Bus)) is not one, and its methods panic.
type Bus struct {
	opts   Options
	fs     vfs.FS
	dir    string
	memory bool
	mem    *vfs.MemFS // an in-memory bus's private filesystem (its log)
	clock  func() int64
	funcs  map[string]RecomputeFunc

	mu       sync.RWMutex
	lsnWake  atomic.Pointer[chan struct{}] // see WaitLSN
	store    *page.Store
	graph    *graph.Graph
	bindings map[PageID]*Binding
	flags    map[PageID]uint8
	lastLSN  LSN
	lastTime int64
	nextID   PageID

	// dirty lists pages written since the last propagation that have
	// children in the graph; dirtySet dedups it.
	dirty    []PageID
	dirtySet map[PageID]struct{}
	// recompute lists derived pages the next wave computes whether or not
	// a parent changed: pages bound since (Bind, live or replayed) and
	// those a checkpoint recorded as held back by a failed recompute.
	// The wave's plan moves them into the propagator's retry set. They
	// wait here, under mu alone, because a wave computing without the
	// lock reads that set (Bind bumps ctrlGen, so such a wave plans
	// again and takes them). recomputeSet dedups it and holds each page's
	// index in it (Unbind removes a page in constant time).
	recompute    []PageID
	recomputeSet map[PageID]int
	// pendingExtra counts the pages Pending adds to len(dirty): bound,
	// not dirty, and listed in recomputeSet or the propagator's retrySet
	// (waitsBeyondDirty). It is kept where those sets change, so that
	// Pending, which a metrics scrape calls, reads a count under the read
	// lock instead of walking the sets (19 ms at 200,000 bound pages,
	// while commits waited for the write lock). Guarded by mu.
	pendingExtra int

	log      *tlog.Log
	lock     io.Closer
	failErr  error
	closed   bool
	buf      []byte
	slots    []page.Slot
	recovery Recovery

	// finalStore is the store's statistics when Close released it, for
	// Stats after Close.
	finalStore page.Stats

	ckptMu      ctxMutex     // held for a checkpoint's duration (Checkpoint waits for it with its ctx)
	ckptScratch ckptScratch  // guarded by ckptMu
	ckptPool    cowBlockPool // guarded by ckptMu: kept from one checkpoint to the next
	// unloadable holds the checkpoints recovery passed over because they
	// did not load; guarded by ckptMu. Pruning must not count them among
	// the retained ones (pruneAfterCheckpoint).
	unloadable map[string]bool
	// pruneStuck holds the names under which the last prune found no
	// checkpoint file and could not remove them (reported once, then
	// passed over); guarded by ckptMu.
	pruneStuck map[string]bool
	// listSortHook, set by tests, runs where the list accessors (Bindings,
	// Edges, Children, Parents) and a checkpoint's writer sort their copy
	// (sortUnlocked).
	listSortHook func()
	// sharedApplyHook, set by tests, runs under the lock in
	// applyToPageShared between the page's BeginWrite and its bytes
	// changing (to panic there).
	sharedApplyHook func()
	// ckptAfterStep1, set by tests before a checkpoint, runs on the
	// checkpoint's goroutine after each range's first step, without the
	// lock (to change pages between the steps).
	ckptAfterStep1 func()
	// ckptLockedHook, set by tests before a checkpoint, runs where the
	// checkpoint holds e.mu: "sizes" shared (its scratch's sizes, read
	// too when CreatePages reserves scratch), "snapshot" exclusively
	// (copy on write on), "step1" and "step3" shared, once a range, and
	// "cow-off" exclusively (copy on write ended) (to panic there).
	ckptLockedHook func(step string)
	// ckptUnlockedHook, set by tests before a checkpoint, runs where the
	// checkpoint holds no lock of the bus's: "prepare" (scratch and pool
	// readied), "recycle" (copy on write's memory handed back) and
	// "prune" (before old files are removed), to panic there.
	ckptUnlockedHook func(step string)
	// verifyReplayed, set by tests, runs in VerifyReplay once the replay
	// reached the LSN it started at, before it catches up, without a lock.
	verifyReplayed func()
	// verifyStepped, set by tests, runs in VerifyReplay after each step
	// but the last, without a lock, with the first page ID not compared.
	verifyStepped   func(next PageID)
	lastCkptLSN     LSN
	checkpointCount uint64
	// Read by every commit (maybeCheckpoint) without ckptMu, which a
	// running checkpoint holds for its whole duration.
	lastCkptBytes atomic.Uint64 // log bytes written when the last checkpoint was taken
	lastCkptTime  atomic.Int64  // wall time of the last checkpoint, ns
	ckptRunning   atomic.Bool   // an automatic checkpoint is in flight
	ckptWriting   atomic.Bool   // a checkpoint (automatic or explicit) is being taken: CheckpointRunning
	ckptWG        sync.WaitGroup
	ckptStartMu   sync.Mutex // orders starting a background checkpoint with Close
	closing       bool       // guarded by ckptStartMu
	// ckptCancel ends the checkpoint that holds ckptMu now, on a bus with
	// a log (cancelOnClose); nil when none runs. Guarded by ckptStartMu.
	ckptCancel context.CancelCauseFunc

	// Checkpoint outcomes, for Stats and the log growth bound. ckptStatMu
	// guards them and lastCkptLSN and checkpointCount; unlike ckptMu it is
	// held only to read or update them, never across a checkpoint.
	ckptStatMu     sync.Mutex
	ckptFailures   uint64
	ckptLastErr    error
	ckptFailStreak atomic.Uint64 // failures since the last success; read by every write
	ckptPaced      atomic.Int64  // ns checkpoints slept to hold CheckpointWriteRate (Stats)
	ckptRetryBytes atomic.Uint64 // log bytes at the last failure: the next automatic try waits for CheckpointBytes more
	ckptRetryTime  atomic.Int64  // wall time of the last failure, ns: the next interval-triggered try waits a full interval

	applier *parallelApplier

	// shared: the store lives in shared memory (Options.Shared); chosen
	// once at Open so that the private apply path pays one branch.
	shared    bool
	sharedDir string            // the region's published directory
	readers   sharedReaderCount // SharedReaders' rate-limited scan

	graphHasEdges bool
	hist          []histEntry // write-history ring, indexed by LSN & histMask
	histMask      uint64
	commits       []commitStamp // commit-time ring, indexed by commit count & mask
	commitCount   uint64
	derivedReads  map[PageID]*Derivation
	replayOps     []record.Op // decode buffer of recovery and replay
	sink          int         // keeps cache-warming loads from being optimised away
	// replayOnly, in a detached replay (ReadPageAt), restricts it to one
	// page: other pages, edges and bindings are checked in the checkpoint
	// but not loaded, and operations not on the page are skipped, so that
	// reading a page as of an LSN costs the page's memory, not the bus's.
	replayOnly PageID
	cow        *cowState // copy-on-write state of a running checkpoint (nil: none)

	provCache *provCache // decoded log operations recently used by provenance queries

	// prop is the propagation scratch, reused across waves (propagate.go).
	// waveMu, a one-slot semaphore, makes waves one at a time: a wave
	// computes its pages with mu released between steps, and prop is its
	// own until it ends. Taken before mu, never while holding it, through
	// lockWave, whose wait ends with the waiter's ctx or when Close closes
	// waveClosed. (A sync.Mutex until 2026-12-07: a Propagate behind a
	// wave in a slow function waited past its deadline, and past Close,
	// TestPropagateWaitEndsWithCtxAndClose.)
	prop       *propagator
	waveMu     chan struct{}
	waveClosed chan struct{}
	// ctrlGen counts the control operations applied (every logged
	// operation but a delta: creates, frees, edges, bindings, metadata,
	// flags). A wave computed without the lock checks it at each step: an
	// unchanged count means the graph, the bindings and the page slots are
	// the ones it planned with. Guarded by mu.
	ctrlGen uint64

	met busMetrics // counters and histograms behind Metrics (metrics.go)

	rh *rollingHash // rolling state hash, with a Replicator or as a follower (replication.go); guarded by mu
}

// memoryPolicy is how the page store prepares page memory.
func (o *Options) memoryPolicy() page.MemoryPolicy {
	return page.MemoryPolicy{Prefault: !o.LazyPageMemory, HugePages: o.HugePages}
}

func (o *Options) withDefaults() Options {
	r := *o
	if r.FS == nil {
		r.FS = vfs.Default
	}
	if r.SegmentBytes <= 0 {
		r.SegmentBytes = 64 << 20
	}
	if r.CheckpointBytes == 0 {
		r.CheckpointBytes = defaultCheckpointBytes
	}
	if r.Clock == nil {
		r.Clock = func() int64 { return time.Now().UnixNano() }
	}
	if r.HistoryEntries == 0 {
		r.HistoryEntries = 1 << 12
	}
	if r.Workers <= 0 {
		r.Workers = 1
	}
	return r
}

// physicalMemory bounds pre-faulted page memory (a variable: tests make
// it small).
var physicalMemory = page.PhysicalMemory

// MaxWorkers bounds Options.Workers. A garbage count (a C caller's
// INT32_MAX) asked Open for hundreds of gigabytes of per-worker state, a
// fatal out-of-memory no caller can recover from.
const MaxWorkers = 1024

// MaxHistoryEntries bounds Options.HistoryEntries (16,777,216 entries,
// 384 MiB of ring). A larger count asked Open for a ring it could not
// give: math.MaxInt hung Open (rounding up to a power of two overflowed to
// zero and never ended) and 1<<40 crashed it out of memory.
const MaxHistoryEntries = 1 << 24

// MinCheckpointWriteRate bounds a positive Options.CheckpointWriteRate
// from below (1 MiB/s: a 1 GiB checkpoint then takes 17 minutes). A rate of
// a few bytes a second made one automatic checkpoint take days, and Close,
// which waits for it, with it.
const MinCheckpointWriteRate = 1 << 20

// minSegmentBytes bounds a positive Options.SegmentBytes from below: a
// segment's header (tlog.SegmentHeaderSize, 24 bytes) and the frame of one
// small record (tlog.FrameHeaderSize, 20 bytes, and its payload), rounded
// up. The log rotates at record boundaries once a segment has reached the
// size, so anything smaller put every record in a file of its own (a file
// created and the directory fsynced per commit) whatever the value: a size
// of 1 is a mistake, most likely of units, and was accepted silently.
const minSegmentBytes = 64

// Open opens the bus in dir, recovering its state (newest valid checkpoint
// plus the log tail), or an in-memory bus when dir is "" (its log lives in
// memory). A failed Open leaves nothing open (no lock, file or goroutine).
// Its errors (test with errors.Is):
//
//   - ErrLocked: another Bus (in this process or another) has dir open.
//   - ErrInvalidOption: an option out of its range or inconsistent (the
//     Sync mode, Workers, SegmentBytes, CheckpointWriteRate,
//     HistoryEntries, a nil entry in Functions, the replication options,
//     Shared without an on-disk dir or with a SharedDir that is missing,
//     not writable or cannot hold a region), a dir
//     whose absolute path cannot be found, or a DisableLog Open of a
//     directory whose log holds operations no checkpoint covers.
//   - ErrCorruption: the directory's files do not recover its state: a
//     damaged log (see Options.Repair), a newest checkpoint that does not
//     load where the log no longer holds what it covered, no loadable
//     checkpoint and no log to rebuild from, a damaged log-mode file, or a
//     log removed from under its checkpoints (wal/ or its segments gone:
//     Options.Repair, or DisableLog, accepts the loss).
//   - ErrUnknownFunc: derived pages are bound to recompute functions not
//     registered in Options.Functions.
//   - ErrNoSpace: no room in SharedDir or no memory for the shared region,
//     or recovery ran out of memory or space applying the log (the log is
//     intact: open it again with more room).
//
// Other failures (creating dir, an I/O error reading it) are returned
// wrapped, naming the path.
func Open(dir string, o *Options) (*Bus, error) {
	if o == nil {
		o = &Options{}
	}
	opts := o.withDefaults()
	if opts.Sync > SyncReplicated {
		return nil, fmt.Errorf("%w: Sync %d is not a sync mode (SyncGroup, SyncAlways, SyncNone or SyncReplicated)", ErrInvalidOption, opts.Sync)
	}
	var nilFuncs []string
	for name, fn := range opts.Functions {
		if fn == nil {
			nilFuncs = append(nilFuncs, name)
		}
	}
	if len(nilFuncs) > 0 {
		// A nil function would be bound and then called: every wave would
		// fail on it, and callers of Func (the purity validator) panicked.
		sort.Strings(nilFuncs)
		return nil, fmt.Errorf("%w: Functions%q: nil recompute function", ErrInvalidOption, nilFuncs)
	}
	if err := opts.checkReplication(); err != nil {
		return nil, err
	}
	if opts.Workers > MaxWorkers {
		return nil, fmt.Errorf("%w: Workers %d, at most %d", ErrInvalidOption, opts.Workers, MaxWorkers)
	}
	if r := opts.CheckpointWriteRate; r > 0 && r < MinCheckpointWriteRate {
		return nil, fmt.Errorf("%w: CheckpointWriteRate %d bytes/s, at least %d (or 0 for the default, negative for no limit)", ErrInvalidOption, r, MinCheckpointWriteRate)
	}
	if opts.HistoryEntries > MaxHistoryEntries {
		return nil, fmt.Errorf("%w: HistoryEntries %d, at most %d", ErrInvalidOption, opts.HistoryEntries, MaxHistoryEntries)
	}
	if opts.SegmentBytes < minSegmentBytes {
		// withDefaults made 0 and negative sizes the default.
		return nil, fmt.Errorf("%w: SegmentBytes %d, at least %d (or 0 for the default)", ErrInvalidOption, opts.SegmentBytes, minSegmentBytes)
	}
	e := &Bus{
		opts:         opts,
		fs:           opts.FS,
		dir:          dir,
		clock:        opts.Clock,
		store:        page.New(),
		graph:        graph.New(),
		bindings:     map[PageID]*Binding{},
		flags:        map[PageID]uint8{},
		dirtySet:     map[PageID]struct{}{},
		recomputeSet: map[PageID]int{},
		nextID:       1,
		funcs:        map[string]RecomputeFunc{},
		derivedReads: map[PageID]*Derivation{},
		provCache:    newProvCache(),
		waveMu:       make(chan struct{}, 1),
		waveClosed:   make(chan struct{}),
	}
	e.met.init()
	if opts.HistoryEntries > 0 {
		n := 1
		for n < opts.HistoryEntries {
			n <<= 1
		}
		e.hist = make([]histEntry, n)
		e.histMask = uint64(n - 1)
		e.commits = make([]commitStamp, commitRing)
	}
	e.store.SetMemoryPolicy(opts.memoryPolicy())
	if !opts.LazyPageMemory {
		// Pre-faulted page memory past the machine's memory would end the
		// process (the OOM killer) instead of refusing the create.
		e.store.SetArenaLimit(physicalMemory())
	}
	for _, b := range semiring.Builtins() {
		e.funcs[b.Name] = b.Fn
	}
	for name, fn := range opts.Functions {
		e.funcs[name] = fn
	}
	if dir != "" && e.fs == vfs.Default && !filepath.IsAbs(dir) {
		// The bus keeps using its directory after Open (new log segments,
		// checkpoints, removals): a relative one followed the process's
		// working directory, and after a chdir the next segment could not
		// be created and the bus failed (TestRelativeDirSurvivesChdir).
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: dir %q: %w", ErrInvalidOption, dir, err)
		}
		e.dir = abs
	}
	if dir == "" {
		if o.SegmentBytes <= 0 {
			// In memory a segment is one growing []byte: small segments keep
			// its doubling copies (done under the log's lock) short.
			e.opts.SegmentBytes = 4 << 20
		}
		e.memory = true
		e.mem = vfs.NewMem()
		e.fs = e.mem
		e.dir = "/mmsb"
		if !opts.MemoryCheckpoints && scratchUsable() {
			e.fs = vfs.Mount(e.mem, e.ckptDir(), vfs.Scratch(""), "/")
		}
	}
	if err := e.open(); err != nil {
		return nil, err
	}
	e.reserveCheckpointScratch() // pages recovered: ready for the first checkpoint
	return e, nil
}

// openRecoveredHook, set by tests, runs in open once recovery succeeded,
// where a later step (publishing the shared region) can still fail: its
// error fails the Open as that step's would.
var openRecoveredHook func() error

// open is Open after the options and filesystem are settled.
func (e *Bus) open() error {
	opts := e.opts
	start := time.Now()
	var sharedPath string
	if opts.Shared {
		var err error
		if sharedPath, err = e.sharedRegionPath(); err != nil {
			return err
		}
	}
	if err := vfs.MkdirAllAndSync(e.fs, e.dir); err != nil {
		return fmt.Errorf("mmsb: create %s: %w", e.dir, err)
	}
	lockPath := e.fs.Join(e.dir, "LOCK")
	lk, err := e.fs.Lock(lockPath)
	if err != nil {
		if f, rerr := vfs.OpenRegular(e.fs, lockPath); errors.Is(rerr, vfs.ErrNotRegular) {
			// A directory under LOCK's name said only "is a directory"
			// (TestOpenLockNotRegularFileSaysWhat; mmsb check reports it).
			return fmt.Errorf("mmsb: open %s: %s must be a regular file (%w): remove it while no writer runs; the next Open makes it again: %w", e.dir, lockPath, rerr, err)
		} else if rerr == nil {
			_ = f.Close()
		}
		return fmt.Errorf("mmsb: open %s: %w", e.dir, err)
	}
	e.lock = lk
	if opts.Shared {
		if err := e.openShared(sharedPath); err != nil {
			_ = lk.Close()
			return err
		}
	}
	// The apply workers exist before recovery so that a failed recovery
	// and a successful one leave the same things to close.
	e.applier = newParallelApplier(opts.Workers)
	if err := e.recover(); err != nil {
		e.applier.close()
		// recover may fail after opening the log: close it too, or its file
		// and (SyncGroup) flusher goroutine would outlive the failed Open.
		if e.log != nil {
			_ = e.log.Close() // the recovery error is the one to report
		}
		_ = e.store.Close()
		_ = lk.Close()
		return err
	}
	// The steps that can still fail, then the mark of a loss this Open
	// reports goes: only once nothing fails is the report sure to reach
	// the caller (clearLossPending).
	if openRecoveredHook != nil {
		err = openRecoveredHook()
	}
	if err == nil && e.shared {
		err = e.publishShared()
	}
	if err == nil && e.log != nil {
		// A removed newest segment Repair accepted is reported now:
		// the log's record of its newest segment may follow the log.
		err = e.log.SettleNewest()
	}
	if err == nil {
		err = e.clearLossPending()
	}
	if err != nil {
		e.applier.close()
		if e.log != nil { // nil with DisableLog
			_ = e.log.Close()
		}
		_ = e.store.Close()
		_ = lk.Close()
		return err
	}
	if !e.shared {
		e.reclaimSharedRegion() // a dead shared writer's region (shared.go)
	}
	e.initRollingHash()
	e.recovery.Duration = time.Since(start)
	e.lastCkptTime.Store(time.Now().UnixNano())
	return nil
}

// scratchUsable reports whether a file can be made in $TMPDIR, where an
// in-memory bus keeps its checkpoints. When none can (a read-only or
// missing $TMPDIR), the bus keeps them in RAM as with MemoryCheckpoints
// rather than fail every automatic checkpoint, which would end in writes
// refused with ErrCheckpointFailing once the log outgrew its bound.
func scratchUsable() bool {
	f, err := os.CreateTemp("", "mmsb-probe-")
	if err != nil {
		return false
	}
	_ = f.Close()           // empty: nothing to flush
	_ = os.Remove(f.Name()) // a leftover probe is empty and harmless
	return true
}

func (e *Bus) walDir() string  { return e.fs.Join(e.dir, "wal") }
func (e *Bus) ckptDir() string { return e.fs.Join(e.dir, "checkpoints") }

// logRecovery converts the log's report. A log that holds no operation
// (fresh, or emptied by a checkpoint) reports its segment's base LSN as
// first and the LSN before it as last; LogRecovery says 0 for both.
func logRecovery(rep tlog.RecoveryReport) LogRecovery {
	l := LogRecovery(rep)
	if l.FirstLSN > l.LastLSN {
		l.FirstLSN, l.LastLSN = 0, 0
	}
	return l
}

// recover loads the newest loadable checkpoint and replays the log tail.
func (e *Bus) recover() error {
	if err := e.checkLogDir(); err != nil {
		return err
	}
	logRemoved, err := e.lossToReport()
	if err != nil {
		return err
	}
	if err := e.makeDirs(); err != nil {
		return err
	}
	// A leftover that cannot be removed is only disk space; a panic out
	// of the FS (ErrFilePanicked) is refused, as List's below is.
	if err := checkpoint.RemoveTemp(e.fs, e.ckptDir()); errors.Is(err, checkpoint.ErrFilePanicked) {
		return fmt.Errorf("mmsb: remove temporary checkpoints: %w", err)
	}
	ckpts, err := checkpoint.List(e.fs, e.ckptDir())
	if err != nil {
		return fmt.Errorf("mmsb: list checkpoints: %w", err)
	}
	ckpts = e.passOverNonFiles(ckpts)
	for _, c := range ckpts {
		err := e.loadCheckpoint(c.Path)
		if err == nil {
			err = e.checkContinuesLog(e.fs, e.walDir(), c.Path)
		}
		if err == nil {
			e.recovery.Checkpoint = c.Path
			e.recovery.CheckpointLSN = e.lastLSN
			e.lastCkptLSN = e.lastLSN
			break
		}
		// The loader's errors name the file (loadCheckpointFrom).
		e.recovery.SkippedCheckpoint = append(e.recovery.SkippedCheckpoint, err.Error())
		if e.unloadable == nil {
			e.unloadable = map[string]bool{}
		}
		e.unloadable[c.Path] = true
		e.resetState()
	}
	// If every checkpoint failed, the log is replayed from empty: replay
	// checks that it then starts at LSN 1 (history missing otherwise).
	if e.opts.DisableLog {
		// Without a log nothing leads past the loaded checkpoint: a newer
		// one that did not load holds committed state that is lost, and
		// so does every checkpoint when none loaded. Such a bus opened at
		// the older state (or empty), silently but for
		// Recovery().SkippedCheckpoint, and its next commits took the
		// lost LSNs (TestDisableLogRefusesUnloadableCheckpoint). A log
		// holding what the checkpoint lacks is refused first: Open with
		// it loses nothing.
		segs, err := e.coveredLog()
		if err != nil {
			return err
		}
		if !e.memory && len(ckpts) > 0 && e.recovery.Checkpoint == "" {
			return fmt.Errorf("%w: no checkpoint could be loaded (%s) and the bus keeps no log (Options.DisableLog): it would open empty (restore a checkpoint, or remove them to start empty)", ErrCorruption, strings.Join(e.recovery.SkippedCheckpoint, "; "))
		}
		if err := e.checkSkippedCheckpoints(ckpts); err != nil {
			return err
		}
		// As with a log: the bindings' functions were not checked, and
		// Recovery().MissingFunctions stayed empty
		// (TestDisableLogRefusesMissingFunctions).
		e.checkMissingFunctions()
		if len(e.recovery.MissingFunctions) > 0 && !e.opts.AllowMissingFunctions {
			return fmt.Errorf("%w: derived pages bound to unregistered functions: %v (register them in Options.Functions, or set Options.AllowMissingFunctions)", ErrUnknownFunc, e.recovery.MissingFunctions)
		}
		if logRemoved {
			// A removed log accepted, as Repair reports it
			// (repairsRemovedLog): what was committed after the
			// checkpoint (every commit, without one) is gone.
			e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = e.lastLSN+1, LostLSNUnknown
		}
		return e.dropLog(segs)
	}
	from := e.lastLSN
	var op record.Op
	var dec record.Decoder
	log, rep, err := tlog.Open(tlog.Options{
		FS: e.fs, Dir: e.walDir(), SegmentBytes: e.opts.SegmentBytes, Sync: e.opts.logSync(), Repair: e.opts.Repair, KeepSegment: true,
		FsyncNanos: e.met.fsyncNanos, GroupRecords: e.met.groupRecords,
	}, from, func(r *tlog.Record) error {
		return e.replayRecord(r, from, &dec, &op)
	})
	e.recovery.Log = logRecovery(rep)
	if err != nil {
		if len(e.recovery.SkippedCheckpoint) > 0 {
			// Most likely the log needed one of them ("history
			// missing"): say that they did not load, and why.
			which := "no checkpoint loaded"
			if e.recovery.Checkpoint != "" {
				which = "newer checkpoints than " + e.recovery.Checkpoint + " did not load"
			}
			return fmt.Errorf("%w (%s: %s)", err, which, strings.Join(e.recovery.SkippedCheckpoint, "; "))
		}
		return err
	}
	e.log = log
	if rep.LastLSN != 0 && rep.LastLSN < e.lastLSN {
		// The log ends before the checkpoint: records the checkpoint covers
		// were cut (by Repair: recovery refuses to cut them as a torn tail
		// without it, TestOpenRefusesTornTailBeforeCheckpoint). The log
		// cannot continue at the checkpoint's next LSN (it appends
		// contiguously), so start it afresh there.
		//
		// A checkpoint is taken only once the log durably holds its LSN,
		// so a log that ends before it with nothing cut by this Open is
		// not this checkpoint's: a segment is missing, or the checkpoint
		// was copied in from another bus. Restarting then deleted every
		// segment and the bus's own older checkpoints, and opened at the
		// other state. (A crash between a torn tail's truncation and the
		// restart also lands here: the refusal names Repair, which
		// finishes it.)
		if err := logEndsBeforeCheckpoint(e.walDir(), rep.LastLSN, rep.TornFile != "" || rep.RepairedFile != "", e.recovery.Checkpoint, e.lastLSN, e.opts.Repair); err != nil {
			return err
		}
		if err := e.restartLog(); err != nil {
			return err
		}
		if rep.TornFile == "" && rep.RepairedFile == "" && e.recovery.Log.LostLastLSN == 0 {
			// Repair accepted a log that ends before the checkpoint with
			// nothing cut: what a missing segment held past the
			// checkpoint, if anything, is gone.
			e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = e.lastLSN+1, LostLSNUnknown
		}
	}
	// A log that holds a record is no removed one: the loss was
	// reported, and a bus committed since, when a crash after
	// clearLossPending's removal, before its directory sync, brought
	// the mark back (or the log was restored). It reported the commits
	// from the last LSN + 1 on lost, which were never committed
	// (TestStaleLossMarkNotReported); the mark goes with this Open.
	if logRemoved && e.recovery.Log.LostLastLSN == 0 && e.lastLSN == e.recovery.CheckpointLSN {
		e.recovery.Log.LostFirstLSN, e.recovery.Log.LostLastLSN = e.lastLSN+1, LostLSNUnknown
	}
	// The log holds a segment now (KeepSegment): from here on a wal/
	// without one is a removed log (checkLogRemoved).
	if err := e.writeLogMode(tlog.ModeLog); err != nil {
		return err
	}
	if e.lastLSN == 0 && len(ckpts) > 0 && e.recovery.Checkpoint == "" && rep.LastLSN == 0 {
		return fmt.Errorf("%w: no checkpoint could be loaded (%s) and the log is empty", ErrCorruption, strings.Join(e.recovery.SkippedCheckpoint, "; "))
	}
	if err := e.checkSkippedCheckpoints(ckpts); err != nil {
		return err
	}
	e.lastCkptBytes.Store(e.log.Stats().Bytes)
	e.checkMissingFunctions()
	if len(e.recovery.MissingFunctions) > 0 && !e.opts.AllowMissingFunctions {
		return fmt.Errorf("%w: derived pages bound to unregistered functions: %v (register them in Options.Functions, or set Options.AllowMissingFunctions)", ErrUnknownFunc, e.recovery.MissingFunctions)
	}
	return nil
}

// passOverNonFiles returns ckpts without the names that hold no
// checkpoint file (checkpoint.Info.HoldsNoFile: a directory, a named
// pipe), each reported in Recovery().SkippedCheckpoint and left as it
// is. Such a name is not a checkpoint that was lost: a
// checkpoint is only ever written as a file and renamed into place, so an
// operator's directory (a restored backup tree, a mistaken mkdir) is not
// evidence of commits the log no longer holds. Before, recovery tried to
// load it like a damaged checkpoint: past the log's end Open failed with
// ErrCorruption ("committed operations are missing"), and Repair's
// removal of a non-empty directory failed, so no Open succeeded
// (TestRecoverPassesOverNonFileCheckpointName). A regular file that does
// not load stays a damaged checkpoint and is refused as before. Retention
// removes such a name if it can, and passes over one it cannot
// (pruneAfterCheckpoint).
func (e *Bus) passOverNonFiles(ckpts []checkpoint.Info) []checkpoint.Info {
	files := ckpts[:0:0]
	for _, c := range ckpts {
		if !c.HoldsNoFile() {
			files = append(files, c)
			continue
		}
		// The text `mmsb check` and the integrity validator say too.
		e.recovery.SkippedCheckpoint = append(e.recovery.SkippedCheckpoint, c.PassedOver())
	}
	return files
}

// checkpointFiles is checkpoint.List without the names that hold no
// checkpoint file (checkpoint.ListFiles; see passOverNonFiles).
func checkpointFiles(fs vfs.FS, dir string) ([]checkpoint.Info, error) {
	files, _, err := checkpoint.ListFiles(fs, dir)
	return files, err
}

// checkSkippedCheckpoints refuses a recovered state that ends before the
// LSN of a checkpoint that did not load. A checkpoint is committed only
// once the log durably holds its LSN, so the log should lead past it; when
// it does not (the log damaged as well), operations that were committed
// are missing and the state is older than the history. Repair accepts that
// state and removes such checkpoints: the next operations reuse their LSNs.
func (e *Bus) checkSkippedCheckpoints(ckpts []checkpoint.Info) error {
	for _, c := range ckpts {
		if !e.unloadable[c.Path] || c.LSN <= e.lastLSN {
			continue
		}
		if !e.opts.Repair && e.opts.DisableLog {
			return fmt.Errorf("%w: checkpoint %s (LSN %d) does not load and the bus keeps no log (Options.DisableLog): its state would be the older checkpoint's (LSN %d), committed operations missing "+
				"(restore it; Options.Repair accepts the loss and removes it)", ErrCorruption, c.Path, c.LSN, e.lastLSN)
		}
		if !e.opts.Repair {
			return fmt.Errorf("%w: checkpoint %s (LSN %d) does not load and the log ends at LSN %d: committed operations are missing", ErrCorruption, c.Path, c.LSN, e.lastLSN)
		}
		if err := e.fs.Remove(c.Path); err != nil {
			return fmt.Errorf("mmsb: repair: remove checkpoint %s: %w", c.Path, err)
		}
		// Commits through c.LSN at least are gone; unless the log's cut
		// reached that far (and says where it ended), how many more is
		// not known.
		if l := &e.recovery.Log; l.LostLastLSN == 0 || l.LostLastLSN < c.LSN {
			l.LostFirstLSN, l.LostLastLSN = e.lastLSN+1, LostLSNUnknown
		}
		delete(e.unloadable, c.Path)
		if err := e.fs.SyncDir(e.ckptDir()); err != nil {
			return fmt.Errorf("mmsb: repair: %w", err)
		}
	}
	return nil
}

// restartLog replaces a log that ends before the loaded checkpoint's LSN by
// an empty one, so that the next record (checkpoint LSN + 1) starts a new
// segment. Every record it removes is covered by that checkpoint. Older
// checkpoints are removed too: the log no longer leads from them to the
// present, so neither recovery nor replay could use them.
func (e *Bus) restartLog() error {
	if err := e.log.Close(); err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	e.log = nil
	names, err := e.fs.List(e.walDir())
	if err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	// The new log's (empty) segment first, then the old ones go: a crash
	// in between leaves both, and the old ones end before the checkpoint,
	// so recovery passes over them; the other order left a wal/ without a
	// segment, which reads as a removed log.
	fresh := tlog.SegmentName(e.lastLSN + 1)
	if err := tlog.CreateEmptySegment(e.fs, e.walDir(), e.lastLSN+1); err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	for _, name := range names {
		if _, ok := tlog.ParseSegmentName(name); ok && name != fresh {
			if err := e.fs.Remove(e.fs.Join(e.walDir(), name)); err != nil {
				return fmt.Errorf("mmsb: restart log: %w", err)
			}
		}
	}
	if err := e.fs.SyncDir(e.walDir()); err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	// A name that holds no checkpoint file is left as it is: an
	// operator's directory is not emptied, and one that cannot be removed
	// failed the Open.
	ckpts, err := checkpointFiles(e.fs, e.ckptDir())
	if err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	for _, c := range ckpts {
		if c.LSN < e.lastLSN {
			if err := e.fs.Remove(c.Path); err != nil {
				return fmt.Errorf("mmsb: restart log: %w", err)
			}
		}
	}
	if err := e.fs.SyncDir(e.ckptDir()); err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	log, _, err := tlog.Open(tlog.Options{
		FS: e.fs, Dir: e.walDir(), SegmentBytes: e.opts.SegmentBytes, Sync: e.opts.logSync(), KeepSegment: true,
		FsyncNanos: e.met.fsyncNanos, GroupRecords: e.met.groupRecords,
	}, e.lastLSN, nil)
	if err != nil {
		return fmt.Errorf("mmsb: restart log: %w", err)
	}
	e.log = log
	return nil
}

func (e *Bus) checkMissingFunctions() {
	e.recovery.MissingFunctions = e.recovery.MissingFunctions[:0]
	for _, id := range e.sortedBindingIDs() {
		b := e.bindings[id]
		if _, ok := e.funcs[b.Func]; !ok {
			e.recovery.MissingFunctions = append(e.recovery.MissingFunctions, fmt.Sprintf("page %d: %s", id, b.Func))
		}
	}
}

func (e *Bus) sortedBindingIDs() []PageID {
	ids := make([]PageID, 0, len(e.bindings))
	for id := range e.bindings {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (e *Bus) resetState() {
	e.store.Reset()
	e.graph = graph.New()
	e.bindings = map[PageID]*Binding{}
	e.flags = map[PageID]uint8{}
	e.derivedReads = map[PageID]*Derivation{}
	e.graphHasEdges = false
	clear(e.dirtySet)
	e.dirty = e.dirty[:0]
	clear(e.recomputeSet)
	e.recompute = e.recompute[:0]
	if e.prop != nil {
		clear(e.prop.retrySet)
		e.prop.retry = e.prop.retry[:0]
	}
	e.pendingExtra = 0
	for i := range e.hist {
		e.hist[i] = histEntry{}
	}
	e.lastLSN, e.lastTime, e.nextID = 0, 0, 1
}

// replayRecord applies the operations of a recovered log record with LSN >
// from.
func (e *Bus) replayRecord(r *tlog.Record, from LSN, dec *record.Decoder, _ *record.Op) error {
	ops, err := e.decodeRecord(r, dec)
	if err != nil {
		return err
	}
	// Skip operations the checkpoint already covers.
	skip := 0
	if r.FirstLSN <= from {
		skip = int(min(uint64(from-r.FirstLSN+1), uint64(len(ops))))
	}
	if skip == len(ops) {
		return nil
	}
	first := r.FirstLSN + LSN(skip)
	if first != e.lastLSN+1 {
		return corruption.New(r.File, r.Offset, "log resumes at LSN %d but state is at LSN %d (history missing)", first, e.lastLSN)
	}
	if i, err := e.applyOps(ops[skip:], first, dec.Time); err != nil {
		return replayApplyErr(r.File, r.Offset, err, first+LSN(i))
	}
	e.recovery.ReplayedOps += uint64(len(ops) - skip)
	e.stampCommit(first, r.LastLSN(), dec.Time)
	return nil
}

// replayApplyErr is the error of a logged operation at lsn that does not
// apply during recovery or replay: corruption of the log, unless the page
// store ran out of space (a full shared-memory tmpfs, the address space),
// which says nothing about the log. Reported as corruption, it sent an
// operator to repair a whole log (TestSharedRecoveryOutOfSpaceIsNotCorruption).
func replayApplyErr(file string, off int64, err error, lsn LSN) error {
	if errors.Is(err, page.ErrNoSpace) {
		return fmt.Errorf("%w: %s at offset %d: op at LSN %d cannot be applied for lack of memory or space (the log is intact): %w", ErrNoSpace, file, off, lsn, err)
	}
	return corruption.Wrap(file, off, err, "op at LSN %d does not apply", lsn)
}

// decodeRecord decodes every operation of a log record into e.replayOps
// (reused; the ops alias the record's payload).
func (e *Bus) decodeRecord(r *tlog.Record, dec *record.Decoder) ([]record.Op, error) {
	if err := dec.Reset(r.Payload); err != nil {
		return nil, corruption.Wrap(r.File, r.Offset, err, "undecodable record")
	}
	if uint64(r.Count) > uint64(len(r.Payload)) {
		return nil, corruption.New(r.File, r.Offset, "record declares %d ops in %d bytes", r.Count, len(r.Payload))
	}
	if cap(e.replayOps) < int(r.Count) {
		e.replayOps = append(e.replayOps[:cap(e.replayOps)], make([]record.Op, int(r.Count)-cap(e.replayOps))...)
	}
	ops := e.replayOps[:r.Count]
	for i := range ops {
		if !dec.More() {
			return nil, corruption.New(r.File, r.Offset, "record declares %d ops, holds %d", r.Count, i)
		}
		if err := dec.Next(&ops[i]); err != nil {
			return nil, corruption.Wrap(r.File, r.Offset, err, "undecodable record")
		}
	}
	if dec.More() {
		return nil, corruption.New(r.File, r.Offset, "trailing bytes after last op")
	}
	return ops, nil
}

// Recovery returns what Open found and did.
func (e *Bus) Recovery() Recovery { return e.recovery }

// Dir returns the bus's data directory ("" for an in-memory bus), made
// absolute by Open on the operating system's filesystem.
func (e *Bus) Dir() string {
	if e.memory {
		return ""
	}
	return e.dir
}

// FS returns the filesystem the bus uses: Options.FS, or for an in-memory
// bus a private one (Options.FS is not used) that keeps the log in memory
// and, unless Options.MemoryCheckpoints, the checkpoints in unnamed
// temporary files (see MemoryCheckpoints).
func (e *Bus) FS() vfs.FS { return e.fs }

// WALDir and CheckpointDir return where the log and checkpoints live on FS.
func (e *Bus) WALDir() string { return e.walDir() }

// CheckpointDir returns the checkpoint directory on FS.
func (e *Bus) CheckpointDir() string { return e.ckptDir() }

// Funcs returns the registered recompute function names, sorted.
func (e *Bus) Funcs() []string {
	names := make([]string, 0, len(e.funcs))
	for n := range e.funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Func returns a registered recompute function.
func (e *Bus) Func(name string) (RecomputeFunc, bool) {
	f, ok := e.funcs[name]
	return f, ok
}

// Err returns why the bus refuses writes for good: nil while it is usable,
// the sticky failure (ErrFailed) once a write or fsync failed, or ErrClosed
// after Close. Refusals that do not end the bus leave it nil: a follower's
// ErrFollower, and ErrCheckpointFailing, which the next successful
// checkpoint lifts (Stats.CheckpointFailStreak says it may come).
func (e *Bus) Err() error {
	e.rlockSettled()
	if e.failErr == nil && e.applier.failed.Load() {
		// A pipelined apply failed (a panic in its drain, seen through
		// by a reader): the bus fails at the next settle, which needs
		// the lock exclusively. Err said nil until a write came
		// (TestDrainFailedErrReports).
		e.mu.RUnlock()
		e.lockSettled()
		defer e.mu.Unlock()
	} else {
		defer e.mu.RUnlock()
	}
	if e.failErr != nil {
		return e.failErr
	}
	return e.usable()
}

// lockSettled takes e.mu exclusively and finishes a pipelined apply still
// running.
func (e *Bus) lockSettled() {
	e.mu.Lock()
	_ = e.settle() // a failed apply fails the bus: writers see it in writable
}

// rlockSettled takes e.mu shared and sees a pipelined apply through, so
// that page bytes read under it are current. Only two take e.mu without
// one of these: commitDeltas, which overlaps the previous batch's apply
// with its own checks, and WaitDurable, which reads no page and waits
// for the log beside the apply.
func (e *Bus) rlockSettled() {
	e.mu.RLock()
	if e.applier.current {
		e.applier.help()
	}
}

// fail records a sticky failure. Caller holds e.mu exclusively.
func (e *Bus) fail(err error) error {
	e.closeRegionIfPartial(err) // shared.go: its readers are told too
	if e.failErr == nil {
		e.failErr = fmt.Errorf("%w: %w", ErrFailed, err)
		// A failed bus logs nothing more: waiters for a later LSN would
		// otherwise wait until their contexts end. Woken, they see the
		// failure (WaitLSN).
		e.wakeLSNWaiters()
	}
	return e.failErr
}

// usable returns why the engine refuses writes, if it does. Caller holds e.mu.
func (e *Bus) usable() error {
	if e.closed {
		return ErrClosed
	}
	return e.failErr
}

// Close syncs the log and releases the directory. It does not checkpoint.
//
// After Close, every method that reads pages, the log or the state hash, or
// that writes, returns ErrClosed (Err reports it too). Accessors of what the
// bus was (LastLSN, Edges, Children, Parents, Descendants, Binding,
// Bindings, LastDerivation, Pending, CheckpointFailures, Recovery, Dir, FS,
// WALDir, CheckpointDir, Funcs, Func) keep answering with the state at
// Close: it lives in ordinary Go memory, read under the lock. Stats keeps
// working with Closed set. Close waits for readers in flight; the page
// arenas are unmapped under the write lock, once no reader can reach them.
//
// A checkpoint running when Close is called (automatic, or a Checkpoint
// call) is stopped between two ranges of pages, and Close waits only for
// that: the log holds everything the checkpoint would have, its partial
// file is removed, and a Checkpoint call it stopped returns ErrClosed. On a
// bus without a log (Options.DisableLog) the checkpoint is the only copy,
// and Close waits for a running one to finish, as it did for every bus
// until 2026-12-06 (a paced checkpoint of a 10 GiB bus kept Close waiting
// some 160 s, past a service manager's stop timeout).
func (e *Bus) Close() error {
	// A checkpoint being written reads page memory: stop it, and let it
	// end before the pages go.
	e.ckptStartMu.Lock()
	e.closing = true
	if e.ckptCancel != nil {
		e.ckptCancel(ErrClosed)
	}
	e.ckptStartMu.Unlock()
	e.ckptWG.Wait()
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	e.lockSettled()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.wakeLSNWaiters()
	close(e.waveClosed) // waiters for a running wave return ErrClosed
	var err error
	if e.log != nil {
		err = e.log.Close()
	}
	// Unmap under the write lock: a reader that slipped past a closed check
	// would then find an empty store instead of unmapped memory.
	e.finalStore = e.store.Stats()
	serr := e.store.Close()
	e.mu.Unlock()
	e.applier.close()
	if err == nil {
		err = serr
	}
	if lerr := e.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// Flush waits until everything committed so far is durable (fsync). A
// failed fsync fails the bus (sticky ErrFailed wrapping the cause), as a
// commit's does. (Until 2026-12-05 Flush returned the log's error bare and
// Err and Stats().Failed kept reporting a healthy bus until the next write:
// TestFlushFailureFailsBus.)
//
// ctx bounds the wait for an fsync another goroutine runs (the group
// flusher's, a commit's): when it ends Flush returns ctx's error, and the
// bus is not failed. An fsync Flush runs itself is not interrupted (the
// OS gives no way to); nothing is then waited for but the device.
// (Until 2026-12-06 ctx was ignored: a Flush behind a stalled fsync
// waited for it whatever its deadline, TestFlushContextEndsWaitForSync.)
func (e *Bus) Flush(ctx context.Context) error {
	if err := checkCtx(ctx, "Bus.Flush"); err != nil {
		return err
	}
	return e.pushLog(ctx, true)
}

// pushLog hands everything committed so far to the log's files, with an
// fsync when sync is set (Flush) and without one otherwise: a reader of
// the files (QueryLog) needs the bytes in the OS, not on the device, and
// an fsync there made every watch under SyncNone pay for one. A failed
// write or fsync fails the bus.
func (e *Bus) pushLog(ctx context.Context, sync bool) error {
	e.rlockSettled()
	log, closed := e.log, e.closed
	e.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if log == nil {
		return nil
	}
	var err error
	if sync {
		err = log.SyncContext(ctx)
	} else {
		err = log.WriteThrough(ctx, log.LastLSN())
	}
	if err != nil {
		if errors.Is(err, tlog.ErrClosed) {
			return ErrClosed // Close ran meanwhile: nothing failed
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err // only the wait for another flush ended
		}
		e.lockSettled()
		err = e.fail(err)
		e.mu.Unlock()
		return err
	}
	return nil
}
