package wire

import (
	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

// SentinelsKey is the error metadata (a header, or a gRPC trailer) that
// names, by their Go names ("ErrPageNotFound"), the exported sentinels of
// package mmsb (and tick.ErrBatchTooLarge) that the cause of an error
// wraps, one value each. A Connect code stands for several sentinels
// (InvalidArgument for ErrInvalidDelta, ErrCycle, ErrUnknownFunc, ...):
// with the names, the Go client makes errors.Is hold for each sentinel
// as it does with an embedded bus. Until 2026-12-04 only the code came
// back, and errors.Is(err, mmsb.ErrPageNotFound) was false on the client
// for every error (TestSentinelsRoundTrip).
const SentinelsKey = "Mmsb-Error"

// Sentinel is one error SentinelsKey can name.
type Sentinel struct {
	Name string
	Err  error
}

// Sentinels names the errors SentinelsKey carries: the server names each
// one an error's cause wraps, the client decodes the names back
// (TestSentinelsRoundTrip in internal/server sends every one through the
// client), and every exported Err variable of package mmsb must be here
// (TestSentinelsTableComplete).
var Sentinels = []Sentinel{
	{"ErrPageNotFound", mmsb.ErrPageNotFound},
	{"ErrPageExists", mmsb.ErrPageExists},
	{"ErrInvalidPage", mmsb.ErrInvalidPage},
	{"ErrInvalidDelta", mmsb.ErrInvalidDelta},
	{"ErrOutOfRange", mmsb.ErrOutOfRange},
	{"ErrConflict", mmsb.ErrConflict},
	{"ErrCorruption", mmsb.ErrCorruption},
	{"ErrCycle", mmsb.ErrCycle},
	{"ErrClosed", mmsb.ErrClosed},
	{"ErrFailed", mmsb.ErrFailed},
	{"ErrLocked", mmsb.ErrLocked},
	{"ErrUnknownFunc", mmsb.ErrUnknownFunc},
	{"ErrPageInUse", mmsb.ErrPageInUse},
	{"ErrNotDerived", mmsb.ErrNotDerived},
	{"ErrRecompute", mmsb.ErrRecompute},
	{"ErrLogTruncated", mmsb.ErrLogTruncated},
	{"ErrBusy", mmsb.ErrBusy},
	{"ErrNoCheckpoint", mmsb.ErrNoCheckpoint},
	{"ErrNoSpace", mmsb.ErrNoSpace},
	{"ErrInvalidOption", mmsb.ErrInvalidOption},
	{"ErrCheckpointFailing", mmsb.ErrCheckpointFailing},
	{"ErrWriterGone", mmsb.ErrWriterGone},
	{"ErrStale", mmsb.ErrStale},
	{"ErrSharedCorrupt", mmsb.ErrSharedCorrupt},
	{"ErrSnapshotBusy", mmsb.ErrSnapshotBusy},
	{"ErrReplication", mmsb.ErrReplication},
	{"ErrFollower", mmsb.ErrFollower},
	{"ErrReplicaOrder", mmsb.ErrReplicaOrder},
	{"ErrReplicaDiverged", mmsb.ErrReplicaDiverged},
	{"ErrRecordTooLarge", mmsb.ErrRecordTooLarge},
	{"tick.ErrBatchTooLarge", tick.ErrBatchTooLarge},
}

// SentinelNamed returns the sentinel named name in Sentinels.
func SentinelNamed(name string) (error, bool) {
	for _, s := range Sentinels {
		if s.Name == name {
			return s.Err, true
		}
	}
	return nil, false
}
