package mmsb

import (
	"errors"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/vfs"
)

// Errors returned by the engine. They are wrapped with details (page IDs,
// offsets, files) and are testable with errors.Is.
var (
	// ErrPageNotFound: a page ID that does not exist.
	ErrPageNotFound = errors.New("mmsb: page not found")
	// ErrPageExists: creating a page whose ID is taken.
	ErrPageExists = errors.New("mmsb: page already exists")
	// ErrInvalidPage: bad page size, location or metadata.
	ErrInvalidPage = errors.New("mmsb: invalid page")
	// ErrInvalidDelta: a delta that fails validation (wraps the delta package's reason).
	ErrInvalidDelta = errors.New("mmsb: invalid delta")
	// ErrOutOfRange: a write past the end of its page, a ReadPageRange
	// offset past it, or a provenance range that does not fit in it.
	ErrOutOfRange = delta.ErrOutOfRange
	// ErrConflict: an expected base epoch did not match; nothing applied.
	ErrConflict = errors.New("mmsb: epoch conflict")
	// ErrCorruption: a log or checkpoint failed its checks. The error is a
	// *CorruptionError naming the file and offset.
	ErrCorruption = corruption.ErrCorruption
	// ErrCycle: an edge or binding would close a cycle.
	ErrCycle = graph.ErrCycle
	// ErrClosed: the bus is closed (Bus.Close); a Reader or client, likewise.
	ErrClosed = errors.New("mmsb: bus closed")
	// ErrFailed: an earlier write or fsync failed; writes are refused (sticky).
	ErrFailed = errors.New("mmsb: bus failed (an earlier write or fsync failed)")
	// ErrLocked: another writer holds the data directory.
	ErrLocked = vfs.ErrLocked
	// ErrUnknownFunc: a recompute function that is not registered.
	ErrUnknownFunc = errors.New("mmsb: recompute function not registered")
	// ErrPageInUse: freeing or rebinding a page that edges or a binding use.
	ErrPageInUse = errors.New("mmsb: page has dependency edges or a binding")
	// ErrNotDerived: unbinding a page that is not derived.
	ErrNotDerived = errors.New("mmsb: page is not a derived page")
	// ErrRecompute: a recompute function failed during propagation.
	ErrRecompute = errors.New("mmsb: recompute function failed")
	// ErrLogTruncated: the log no longer holds the history asked for.
	ErrLogTruncated = errors.New("mmsb: log no longer holds the requested history")
	// ErrBusy: a tick orchestrator's intake queue is full and it was
	// configured (tick.Options.FailWhenFull) to refuse rather than wait.
	ErrBusy = errors.New("mmsb: intake queue full")
	// ErrNoCheckpoint: a replay asked to start from a checkpoint
	// (VerifyReplay(ctx, true)) could not start from it because it does not
	// load; the error wraps the reason.
	ErrNoCheckpoint = errors.New("mmsb: replay cannot start from the checkpoint")
	// ErrNoSpace: pages cannot be created for lack of memory or space:
	// the OS refused the mapping or the pre-fault of their memory, or, in
	// shared mode (Options.Shared), the tmpfs is full. A create batch is
	// refused whole before it is logged, and the bus goes on: pages that
	// fit, frees and deltas still commit. The error wraps the cause (e.g.
	// syscall.ENOSPC or syscall.ENOMEM). Open (recovery) returns it too
	// when the logged state does not fit, or when SharedDir has no room
	// for a new region; the log is intact, and the same directory opens
	// where there is room (docs/shm.md).
	ErrNoSpace = errors.New("mmsb: no memory or space for the pages")
	// ErrInvalidOption: an invalid option or argument.
	ErrInvalidOption = errors.New("mmsb: invalid option")
	// ErrCheckpointFailing: writes are refused because checkpoints keep
	// failing and the log has grown by its bound since the last successful
	// one (see Options.CheckpointBytes). Not sticky: the next successful
	// checkpoint lifts it.
	ErrCheckpointFailing = errors.New("mmsb: checkpoints keep failing and the log reached its growth bound")
)

// CorruptionError names the file and offset where a log segment or
// checkpoint failed its checks; errors.Is(err, ErrCorruption) holds for it.
// It is the only corruption error type: the log, checkpoints and the bus all
// return it.
type CorruptionError = corruption.Error

// Shared-memory reader errors (OpenReader, docs/shm.md).
var (
	// ErrWriterGone: no writer serves the bus in shared mode: it closed
	// the bus, its process is gone, or it left a page mid-write (sequence
	// word odd) for longer than ReaderOptions.WriterTimeout.
	ErrWriterGone = page.ErrWriterGone
	// ErrStale: a newer writer reopened the bus and rebuilt the shared
	// region (new generation). Close the Reader and call OpenReader
	// again, or open it with ReaderOptions.Reattach to follow the bus.
	ErrStale = page.ErrStale
	// ErrSharedCorrupt: a shared region failed its checks (bad magic or
	// version, truncated file, field out of range).
	ErrSharedCorrupt = page.ErrBadShared
	// ErrSnapshotBusy: Reader.Snapshot did not get one consistent view
	// within ReaderOptions.SnapshotRetries attempts (the pages kept
	// changing under it), or a page it needed was freed by a commit the
	// writer did not publish within ReaderOptions.WriterTimeout.
	ErrSnapshotBusy = errors.New("mmsb: snapshot busy (pages kept changing, or a free's commit was not published)")
)
