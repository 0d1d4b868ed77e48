//go:build cgo

package main

/*
#define MMSB_BUILDING_LIBRARY
#include "mmsb.h"
#include "errmsg.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/mmsb-go/mmsb"
)

// sentinelCodes maps the Go sentinel errors to their status codes. The
// order matters: errors wrap others (a batch delta past the end of its page
// is ErrInvalidDelta wrapping ErrOutOfRange; ErrNoCheckpoint wraps the
// checkpoint's ErrCorruption), and the most specific sentinel must win.
var sentinelCodes = []struct {
	err  error
	code C.int
}{
	{mmsb.ErrClosed, C.MMSB_ERR_CLOSED},
	{mmsb.ErrFailed, C.MMSB_ERR_FAILED}, // wraps ErrReplication or ErrReplicaDiverged when they failed the bus
	{mmsb.ErrLocked, C.MMSB_ERR_LOCKED},
	{mmsb.ErrNoCheckpoint, C.MMSB_ERR_NO_CHECKPOINT},
	{mmsb.ErrCheckpointFailing, C.MMSB_ERR_CHECKPOINT_FAILING},
	{mmsb.ErrLogTruncated, C.MMSB_ERR_LOG_TRUNCATED},
	{mmsb.ErrPageNotFound, C.MMSB_ERR_PAGE_NOT_FOUND},
	{mmsb.ErrPageExists, C.MMSB_ERR_PAGE_EXISTS},
	{mmsb.ErrOutOfRange, C.MMSB_ERR_OUT_OF_RANGE},
	{mmsb.ErrConflict, C.MMSB_ERR_CONFLICT},
	{mmsb.ErrRecordTooLarge, C.MMSB_ERR_RECORD_TOO_LARGE},
	{mmsb.ErrCycle, C.MMSB_ERR_CYCLE},
	{mmsb.ErrPageInUse, C.MMSB_ERR_PAGE_IN_USE},
	{mmsb.ErrNotDerived, C.MMSB_ERR_NOT_DERIVED},
	{mmsb.ErrUnknownFunc, C.MMSB_ERR_UNKNOWN_FUNC},
	{mmsb.ErrRecompute, C.MMSB_ERR_RECOMPUTE},
	{mmsb.ErrBusy, C.MMSB_ERR_BUSY},
	{mmsb.ErrInvalidPage, C.MMSB_ERR_INVALID_PAGE},
	{mmsb.ErrInvalidDelta, C.MMSB_ERR_INVALID_DELTA},
	{mmsb.ErrInvalidOption, C.MMSB_ERR_INVALID_OPTION},
	{mmsb.ErrCorruption, C.MMSB_ERR_CORRUPTION},
	{mmsb.ErrWriterGone, C.MMSB_ERR_WRITER_GONE},
	{mmsb.ErrStale, C.MMSB_ERR_STALE},
	{mmsb.ErrSharedCorrupt, C.MMSB_ERR_SHARED_CORRUPT},
	{mmsb.ErrSnapshotBusy, C.MMSB_ERR_SNAPSHOT_BUSY},
	{mmsb.ErrNoSpace, C.MMSB_ERR_NO_SPACE},
	{mmsb.ErrReplication, C.MMSB_ERR_REPLICATION},
	{mmsb.ErrFollower, C.MMSB_ERR_FOLLOWER},
	{mmsb.ErrReplicaOrder, C.MMSB_ERR_REPLICA_ORDER},
	{mmsb.ErrReplicaDiverged, C.MMSB_ERR_REPLICA_DIVERGED},
}

// statusOf returns err's status code: the first sentinel it wraps, else
// MMSB_ERR_IO (an operating-system or other error that wraps no sentinel).
func statusOf(err error) C.int {
	for _, s := range sentinelCodes {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return C.MMSB_ERR_IO
}

// fail records err as the calling thread's last error and returns its
// status code.
func fail(err error) C.int {
	return failCode(statusOf(err), err.Error())
}

// failf records an ABI-level error (a code of 100 and up) with a message.
func failf(code C.int, format string, args ...any) C.int {
	return failCode(code, fmt.Sprintf(format, args...))
}

// failCode stores msg in the C thread-local buffer. The Go code of an
// exported function runs on the calling C thread (cgo locks the callback's
// goroutine to it), so the C function sees that thread's storage.
func failCode(code C.int, msg string) C.int {
	if msg == "" {
		C.mmsb_internal_set_error(nil, 0)
		return code
	}
	b := unsafe.StringData(msg)
	C.mmsb_internal_set_error((*C.char)(unsafe.Pointer(b)), C.size_t(len(msg)))
	return code
}

// recoverStatus turns a panic in an exported function into
// MMSB_ERR_INTERNAL: a panic must not unwind into C, where it would kill the
// host process. Every exported function defers it; a panic is a defect to
// fix, this is the last line of defence.
func recoverStatus(st *C.int) {
	if r := recover(); r != nil {
		*st = failf(C.MMSB_ERR_INTERNAL, "mmsb: internal error (please report): %v", r)
	}
}
