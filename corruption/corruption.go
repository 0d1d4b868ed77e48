// Package corruption defines MMSB's one corruption error, shared by the
// transaction log, checkpoints and the bus: a sentinel to test with
// errors.Is and an Error type, naming the file and offset of the failed
// check, to inspect with errors.As.
//
// It is a leaf package of its own because the log and checkpoint packages,
// which find corruption, sit below the root package that users import; the
// root re-exports both names (mmsb.ErrCorruption, mmsb.CorruptionError).
package corruption

import (
	"errors"
	"fmt"
)

// ErrCorruption is wrapped by every corruption error: a log record, segment
// header or checkpoint that failed its checks, or logged operations that do
// not apply to the state they were logged against.
var ErrCorruption = errors.New("mmsb: corruption")

// Error names where corruption was found. errors.Is(err, ErrCorruption)
// holds for it, and errors.Is/As also reach Err when it is set.
type Error struct {
	// File is the path of the log segment or checkpoint.
	File string
	// Offset is the byte offset of the bad record or header in File, or -1
	// when the check concerned the file as a whole.
	Offset int64
	// Reason says which check failed.
	Reason string
	// Err is the underlying decoding error, if any.
	Err error
}

// New returns a corruption error at off in file; the reason is formatted
// with fmt.Sprintf.
func New(file string, off int64, format string, args ...any) *Error {
	return &Error{File: file, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Wrap returns a corruption error at off in file caused by err (typically a
// decoding error); the reason is formatted with fmt.Sprintf.
func Wrap(file string, off int64, err error, format string, args ...any) *Error {
	return &Error{File: file, Offset: off, Reason: fmt.Sprintf(format, args...), Err: err}
}

func (e *Error) Error() string {
	where := e.File
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %d", e.File, e.Offset)
	}
	if e.Err != nil {
		return fmt.Sprintf("mmsb: corruption in %s: %s: %v", where, e.Reason, e.Err)
	}
	return fmt.Sprintf("mmsb: corruption in %s: %s", where, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorruption) true and exposes Err.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorruption, e.Err}
	}
	return []error{ErrCorruption}
}
