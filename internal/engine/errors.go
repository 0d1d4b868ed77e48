package engine

import (
	"errors"

	"github.com/mmsb-go/mmsb/internal/delta"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/vfs"
)

// Errors returned by the engine. They are wrapped with details (page IDs,
// offsets, files) and are testable with errors.Is.
var (
	ErrPageNotFound  = errors.New("mmsb: page not found")
	ErrPageExists    = errors.New("mmsb: page already exists")
	ErrInvalidPage   = errors.New("mmsb: invalid page")
	ErrInvalidDelta  = errors.New("mmsb: invalid delta")
	ErrOutOfRange    = delta.ErrOutOfRange
	ErrConflict      = errors.New("mmsb: epoch conflict")
	ErrCorruption    = errors.New("mmsb: corruption")
	ErrCycle         = graph.ErrCycle
	ErrClosed        = errors.New("mmsb: bus closed")
	ErrFailed        = errors.New("mmsb: bus failed (an earlier write or fsync failed)")
	ErrLocked        = vfs.ErrLocked
	ErrUnknownFunc   = errors.New("mmsb: recompute function not registered")
	ErrPageInUse     = errors.New("mmsb: page has dependency edges or a binding")
	ErrNotDerived    = errors.New("mmsb: page is not a derived page")
	ErrRecompute     = errors.New("mmsb: recompute function failed")
	ErrLogTruncated  = errors.New("mmsb: log no longer holds the requested history")
	ErrInvalidOption = errors.New("mmsb: invalid option")
)
