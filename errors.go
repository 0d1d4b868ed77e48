package mmsb

import (
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/engine"
)

// Errors. Every error returned by the bus wraps one of these (test with
// errors.Is) and names what was wrong.
var (
	// ErrPageNotFound: a page ID that does not exist.
	ErrPageNotFound = engine.ErrPageNotFound
	// ErrPageExists: creating a page whose ID is taken.
	ErrPageExists = engine.ErrPageExists
	// ErrInvalidPage: bad page size, location or metadata.
	ErrInvalidPage = engine.ErrInvalidPage
	// ErrInvalidDelta: a delta that fails validation (wraps the reason below).
	ErrInvalidDelta = engine.ErrInvalidDelta
	// ErrOutOfRange: a write past the end of its page.
	ErrOutOfRange = delta.ErrOutOfRange
	// ErrEmptyDelta: a delta that writes nothing.
	ErrEmptyDelta = delta.ErrEmpty
	// ErrSizeMismatch: mask and payload lengths disagree.
	ErrSizeMismatch = delta.ErrSizeMismatch
	// ErrMalformedDelta: a structurally invalid delta.
	ErrMalformedDelta = delta.ErrMalformed
	// ErrConflict: an expected base epoch did not match; nothing applied.
	ErrConflict = engine.ErrConflict
	// ErrCorruption: a log or checkpoint failed its checks (names file and offset).
	ErrCorruption = engine.ErrCorruption
	// ErrCycle: an edge or binding would close a cycle (names the cycle).
	ErrCycle = engine.ErrCycle
	// ErrClosed: the bus is closed.
	ErrClosed = engine.ErrClosed
	// ErrFailed: an earlier write or fsync failed; the bus refuses writes.
	ErrFailed = engine.ErrFailed
	// ErrLocked: another writer holds the data directory.
	ErrLocked = engine.ErrLocked
	// ErrUnknownFunc: a recompute function that is not registered.
	ErrUnknownFunc = engine.ErrUnknownFunc
	// ErrPageInUse: freeing or rebinding a page that edges or a binding use.
	ErrPageInUse = engine.ErrPageInUse
	// ErrNotDerived: unbinding a page that is not derived.
	ErrNotDerived = engine.ErrNotDerived
	// ErrRecompute: a recompute function failed during propagation.
	ErrRecompute = engine.ErrRecompute
	// ErrLogTruncated: the log no longer holds the history asked for.
	ErrLogTruncated = engine.ErrLogTruncated
	// ErrInvalidOption: an invalid option or argument.
	ErrInvalidOption = engine.ErrInvalidOption
)
