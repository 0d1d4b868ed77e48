// Package errorfs wraps a [vfs.FS] and injects faults into its operations:
// failed creates and opens, failed or short writes, failed fsyncs, a full
// disk. Every other package's fault tests use it, usually over a
// [vfs.MemFS] so that the fault can be followed by a simulated crash.
//
// An [Injector] sees each operation (an [Op]) before it reaches the wrapped
// filesystem and returns the error to inject, or nil to let it through.
// Injectors compose: [OnKind] and [OnPath] select operations, [After],
// [Once] and [Random] decide which of the selected ones fail, and a
// [Toggle] switches the whole thing on and off while a test runs.
//
// What an injected error does depends on its kind:
//   - errors wrapping [io.ErrShortWrite] (see [ErrShortWrite] and
//     [ShortWriteError]) make a write write part of its buffer, then fail;
//   - any other error (such as [ErrInjected] or [ErrNoSpace]) makes the
//     operation fail without reaching the wrapped filesystem. A failed Close
//     still closes the underlying file, as close(2) does.
//
// Injected errors are returned as an [*Error] naming the operation and path,
// wrapping the injector's error, so tests can match them with errors.Is.
package errorfs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// ErrInjected is the plain injected fault: the operation fails and nothing
// reaches the wrapped filesystem.
var ErrInjected = errors.New("errorfs: injected error")

// ErrNoSpace simulates a full disk. It wraps syscall.ENOSPC, so
// errors.Is(err, syscall.ENOSPC) holds, as it would for the OS.
var ErrNoSpace = fmt.Errorf("errorfs: no space left on device: %w", syscall.ENOSPC)

// ErrShortWrite is a failure that, injected on an OpWrite, writes the first half of the buffer
// (rounded down) and then fails. It wraps io.ErrShortWrite. On any other
// operation it is an ordinary failure.
var ErrShortWrite = fmt.Errorf("errorfs: short write: %w", io.ErrShortWrite)

// ShortWriteError is a failure that, injected on an OpWrite, writes the first
// Keep bytes of the buffer (all of it if it is shorter) and then fails. It wraps
// io.ErrShortWrite. Keep at or above the buffer's length models a write whose
// data landed but whose call reported an error.
type ShortWriteError struct {
	// Keep is how many bytes reach the file before the failure.
	Keep int
}

func (e *ShortWriteError) Error() string {
	return fmt.Sprintf("errorfs: short write after %d bytes", e.Keep)
}

// Unwrap returns io.ErrShortWrite.
func (e *ShortWriteError) Unwrap() error { return io.ErrShortWrite }

// OpKind names a kind of filesystem operation.
type OpKind int

// The operations an Injector can fail. Exists and Join cannot fail and are
// never shown to the injector.
const (
	OpCreate     OpKind = iota // FS.Create
	OpOpen                     // FS.Open
	OpOpenAppend               // FS.OpenAppend
	OpRemove                   // FS.Remove
	OpRename                   // FS.Rename (Path old name, NewPath new name)
	OpMkdirAll                 // FS.MkdirAll
	OpList                     // FS.List
	OpSyncDir                  // FS.SyncDir
	OpLock                     // FS.Lock
	OpRead                     // File.Read and File.ReadAt (Offset, N = len(buffer))
	OpWrite                    // File.Write (Offset where the bytes go, N = len(buffer))
	OpSync                     // File.Sync
	OpTruncate                 // File.Truncate (Offset = new size)
	OpSize                     // File.Size
	OpClose                    // File.Close
	numOpKinds
)

var opKindNames = [numOpKinds]string{
	"create", "open", "open-append", "remove", "rename", "mkdir-all", "list",
	"sync-dir", "lock", "read", "write", "sync", "truncate", "size", "close",
}

// String returns the operation's name, as used in error messages.
func (k OpKind) String() string {
	if k < 0 || k >= numOpKinds {
		return fmt.Sprintf("op(%d)", int(k))
	}
	return opKindNames[k]
}

// Op describes one operation about to be performed.
type Op struct {
	Kind OpKind
	// Path is the file or directory operated on (for a file operation, the
	// name the file was opened with; for a rename, the old name).
	Path string
	// NewPath is the new name of a rename, empty otherwise.
	NewPath string
	// Offset is the file offset of a read or write, or the new size of a
	// truncate.
	Offset int64
	// N is the length of the buffer of a read or write.
	N int
}

// String describes the operation for error messages.
func (op Op) String() string {
	switch op.Kind {
	case OpRename:
		return fmt.Sprintf("%s %s -> %s", op.Kind, op.Path, op.NewPath)
	case OpRead, OpWrite:
		return fmt.Sprintf("%s %s at offset %d (%d bytes)", op.Kind, op.Path, op.Offset, op.N)
	case OpTruncate:
		return fmt.Sprintf("%s %s to %d", op.Kind, op.Path, op.Offset)
	}
	return fmt.Sprintf("%s %s", op.Kind, op.Path)
}

// Error is an injected fault: the operation it hit and the injector's error.
type Error struct {
	Op  Op
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("errorfs: %s: %v", e.Op, e.Err) }

// Unwrap returns the injector's error.
func (e *Error) Unwrap() error { return e.Err }

// Injector decides whether an operation fails. MaybeError is called before
// the operation and returns the error to inject or nil. It may be called from
// several goroutines at once.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to the Injector interface.
type InjectorFunc func(op Op) error

// MaybeError calls f.
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// Never is an injector that injects nothing.
var Never Injector = InjectorFunc(func(Op) error { return nil })

// OnKind fails every operation of the given kind with err.
func OnKind(kind OpKind, err error) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Kind == kind {
			return err
		}
		return nil
	})
}

// OnPath applies inj only to operations whose Path or NewPath contains
// substring.
func OnPath(substring string, inj Injector) Injector {
	return InjectorFunc(func(op Op) error {
		if strings.Contains(op.Path, substring) || (op.NewPath != "" && strings.Contains(op.NewPath, substring)) {
			return inj.MaybeError(op)
		}
		return nil
	})
}

// Any asks each injector in turn and returns the first error.
func Any(injs ...Injector) Injector {
	return InjectorFunc(func(op Op) error {
		for _, inj := range injs {
			if err := inj.MaybeError(op); err != nil {
				return err
			}
		}
		return nil
	})
}

// After lets the first n operations that inj would fail ("matching"
// operations) succeed, and fails every matching operation after them. So
// After(0, inj) behaves as inj, and After(2, OnKind(OpSync, e)) fails the
// third Sync and every later one.
func After(n int, inj Injector) Injector {
	var seen atomic.Int64
	return InjectorFunc(func(op Op) error {
		err := inj.MaybeError(op)
		if err == nil {
			return nil
		}
		if seen.Add(1) <= int64(n) {
			return nil
		}
		return err
	})
}

// Once fails only the first operation that inj would fail; later ones
// succeed.
func Once(inj Injector) Injector {
	var done atomic.Bool
	return InjectorFunc(func(op Op) error {
		err := inj.MaybeError(op)
		if err == nil || done.Swap(true) {
			return nil
		}
		return err
	})
}

// Random fails each operation that inj would fail with the given probability
// (0 never, 1 always). The choices come from a generator seeded with seed, so
// the same sequence of operations always fails at the same places; with
// concurrent callers the sequence, and so the outcome, depends on scheduling.
func Random(seed int64, probability float64, inj Injector) Injector {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(uint64(seed), 0x2545f4914f6cdd1d))
	return InjectorFunc(func(op Op) error {
		err := inj.MaybeError(op)
		if err == nil {
			return nil
		}
		mu.Lock()
		x := rng.Float64()
		mu.Unlock()
		if x < probability {
			return err
		}
		return nil
	})
}

// DiskFull fails with ErrNoSpace any write that would take usage() above
// limit bytes (it does not see truncations). Use it with vfs.MemFS.Usage to
// model a disk of a given size; it counts a write as growth even when it
// overwrites, which only makes the disk fill sooner. usage is read without
// synchronisation with the write, so with concurrent writers the limit is
// approximate.
func DiskFull(usage func() int64, limit int64) Injector {
	return InjectorFunc(func(op Op) error {
		if op.Kind == OpWrite && usage()+int64(op.N) > limit {
			return ErrNoSpace
		}
		return nil
	})
}

// Toggle is an Injector that passes operations to another injector only while
// it is on. It starts off, so a test can set up its state undisturbed and
// then switch faults on. Safe for concurrent use.
type Toggle struct {
	inj Injector
	on  atomic.Bool
}

// NewToggle returns a Toggle, initially off, around inj.
func NewToggle(inj Injector) *Toggle { return &Toggle{inj: inj} }

// On enables injection.
func (t *Toggle) On() { t.on.Store(true) }

// Off disables injection.
func (t *Toggle) Off() { t.on.Store(false) }

// Enabled reports whether injection is on.
func (t *Toggle) Enabled() bool { return t.on.Load() }

// MaybeError asks the wrapped injector if the toggle is on.
func (t *Toggle) MaybeError(op Op) error {
	if !t.on.Load() {
		return nil
	}
	return t.inj.MaybeError(op)
}
