package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// busError is the Connect error of code with message msg for a cause
// from the bus: it names the sentinels cause wraps under wire.SentinelsKey.
func busError(code connect.Code, msg, cause error) *connect.Error {
	ce := connect.NewError(code, msg)
	for _, s := range wire.Sentinels {
		if errors.Is(cause, s.Err) {
			ce.Meta().Add(wire.SentinelsKey, s.Name)
		}
	}
	return ce
}

// codeFor maps a bus error to the Connect code a client can act on.
func codeFor(err error) connect.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded
	case errors.Is(err, mmsb.ErrClosed), errors.Is(err, mmsb.ErrFailed):
		// Closed, or failed for good after a log write or fsync error
		// (/readyz answers 503): a restarted server recovers from the log.
		// Before the other sentinels: a failed bus's error wraps its cause,
		// which may be one of them (a Replicator's error wrapping
		// ErrPageNotFound), and every later call answers with it.
		return connect.CodeUnavailable
	case errors.Is(err, mmsb.ErrConflict):
		return connect.CodeAborted
	case errors.Is(err, mmsb.ErrPageNotFound), errors.Is(err, mmsb.ErrNotDerived):
		return connect.CodeNotFound
	case errors.Is(err, mmsb.ErrPageExists):
		return connect.CodeAlreadyExists
	case errors.Is(err, mmsb.ErrFollower):
		// A replicated follower: writes go to the leader.
		return connect.CodeFailedPrecondition
	case errors.Is(err, mmsb.ErrReplication):
		// The leader could not replicate and steps down: retry on the new one.
		return connect.CodeUnavailable
	case errors.Is(err, mmsb.ErrRecordTooLarge):
		return connect.CodeInvalidArgument
	case errors.Is(err, mmsb.ErrInvalidDelta), errors.Is(err, mmsb.ErrOutOfRange),
		errors.Is(err, mmsb.ErrInvalidPage), errors.Is(err, mmsb.ErrInvalidOption),
		errors.Is(err, mmsb.ErrUnknownFunc), errors.Is(err, mmsb.ErrCycle):
		return connect.CodeInvalidArgument
	case errors.Is(err, mmsb.ErrPageInUse), errors.Is(err, mmsb.ErrCheckpointFailing),
		errors.Is(err, mmsb.ErrNoCheckpoint), errors.Is(err, mmsb.ErrLogTruncated),
		errors.Is(err, mmsb.ErrRecompute):
		return connect.CodeFailedPrecondition
	case errors.Is(err, mmsb.ErrBusy), errors.Is(err, mmsb.ErrNoSpace):
		// Full for now (an intake queue; memory or tmpfs space for new
		// pages): nothing was logged, and the bus goes on.
		return connect.CodeResourceExhausted
	case errors.Is(err, mmsb.ErrCorruption):
		return connect.CodeDataLoss
	}
	return connect.CodeInternal
}

// toConnect wraps a bus error with its code; the message keeps the bus's
// wording, which names the page, offset or option that was wrong.
func toConnect(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	return busError(codeFor(err), err, err)
}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, errorf(format, args...))
}
