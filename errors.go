package mmsb

import (
	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/engine"
)

// Errors. Every error returned by the bus wraps one of these (test with
// errors.Is) and names what was wrong.
var (
	ErrPageNotFound   = engine.ErrPageNotFound
	ErrPageExists     = engine.ErrPageExists
	ErrInvalidPage    = engine.ErrInvalidPage
	ErrInvalidDelta   = engine.ErrInvalidDelta
	ErrOutOfRange     = delta.ErrOutOfRange
	ErrEmptyDelta     = delta.ErrEmpty
	ErrSizeMismatch   = delta.ErrSizeMismatch
	ErrMalformedDelta = delta.ErrMalformed
	ErrConflict       = engine.ErrConflict
	ErrCorruption     = engine.ErrCorruption
	ErrCycle          = engine.ErrCycle
	ErrClosed         = engine.ErrClosed
	ErrFailed         = engine.ErrFailed
	ErrLocked         = engine.ErrLocked
	ErrUnknownFunc    = engine.ErrUnknownFunc
	ErrPageInUse      = engine.ErrPageInUse
	ErrNotDerived     = engine.ErrNotDerived
	ErrRecompute      = engine.ErrRecompute
	ErrLogTruncated   = engine.ErrLogTruncated
	ErrInvalidOption  = engine.ErrInvalidOption
)
