// Package vfs is the small filesystem interface through which MMSB does all
// of its file I/O. Production code uses [Default] (the operating system);
// tests use [NewMem] (an in-memory filesystem that can simulate a crash) and
// the fault injectors in package errorfs.
package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unsafe"
)

// ErrLocked is returned by FS.Lock when another holder owns the lock.
var ErrLocked = errors.New("vfs: lock held by another writer")

// File is an open file. Writes are sequential (append at the current
// offset); ReadAt reads anywhere.
type File interface {
	io.Reader
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes the file's data durable (fdatasync on the OS).
	Sync() error
	// Truncate changes the file's size. The write offset is not moved.
	Truncate(size int64) error
	// Size returns the file's current size in bytes.
	Size() (int64, error)
}

// FS is a filesystem. Names are slash-separated paths.
type FS interface {
	// Create creates or truncates name for reading and writing.
	Create(name string) (File, error)
	// Open opens name read-only.
	Open(name string) (File, error)
	// OpenAppend opens an existing file for writing at its end (and reading).
	OpenAppend(name string) (File, error)
	// Remove removes a file.
	Remove(name string) error
	// Rename renames oldname to newname, replacing newname atomically.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string) error
	// List returns the names (not paths) of the entries in dir, sorted.
	List(dir string) ([]string, error)
	// Exists reports whether name exists.
	Exists(name string) bool
	// SyncDir makes dir's entries (creations, renames, removals) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive lock on name (creating it if needed). It
	// returns ErrLocked (wrapped) if another holder owns it. Close releases.
	Lock(name string) (io.Closer, error)
	// Join joins path elements.
	Join(elem ...string) string
}

// SizeHinter is implemented by files that can reserve room for expected
// growth. It is a hint: it never changes the file's size or content.
type SizeHinter interface {
	// SizeHint says the file is expected to grow to about n bytes.
	SizeHint(n int64)
}

// RangeSyncer is implemented by files that can start writing a byte range
// back to storage without waiting for it (sync_file_range on Linux). It is
// not a durability point: File.Sync still is.
type RangeSyncer interface {
	// StartWriteback starts writing bytes [off, off+n) back and returns
	// without waiting; n <= 0 does nothing.
	StartWriteback(off, n int64) error
}

// RangeWaiter is implemented by files that can wait for the writeback of a
// byte range to end (sync_file_range on Linux), so that a long sequential
// writer bounds the dirty data it leaves queued ahead of other files'
// fsyncs. Not a durability point either.
type RangeWaiter interface {
	// WaitWriteback writes back what is still dirty in bytes [off, off+n)
	// and waits until the writeback of all of them has ended; n <= 0 does
	// nothing.
	WaitWriteback(off, n int64) error
}

// DirectWriter is implemented by files that can write past the operating
// system's page cache (O_DIRECT on Linux). A long sequential writer, such
// as a checkpoint, uses it so that its data never sits dirty in the page
// cache, where a journaling filesystem flushes it ahead of other files'
// fsyncs (ext4's ordered mode), and where the writeback it needs competes
// with theirs. Not a durability point: File.Sync still is.
type DirectWriter interface {
	// SetDirect turns direct writes on or off for later writes. While on,
	// every Write must pass a buffer whose address and length are
	// multiples of DirectAlign, at a file offset that is one too
	// (AlignedBuffer makes such buffers). It fails, changing nothing,
	// where the file's filesystem cannot write directly.
	SetDirect(on bool) error
}

// DirectAlign is the alignment of a direct write's buffer address, length
// and file offset: the largest logical block size in common use (4 KiB
// sectors), so it also satisfies 512-byte devices.
const DirectAlign = 4096

// AlignedBuffer returns a zeroed buffer of n bytes whose address is a
// multiple of DirectAlign.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+DirectAlign)
	off := (DirectAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))%DirectAlign) % DirectAlign
	return b[off : off+n : off+n]
}

// Default is the operating system's filesystem.
var Default FS = osFS{}

// IsNotExist reports whether err says a file does not exist, for any FS.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// MkdirAllAndSync creates dir and any missing parents, and makes each
// creation durable by syncing the parent of every directory it created,
// outermost first. MkdirAll alone is not durable: until its parent is
// fsynced a new directory, and so every file in it however well synced, can
// vanish in a power failure. A dir that already exists is left as it is,
// without a sync. A dir that names a file fails, as MkdirAll does (it
// used to succeed, since the name existed).
func MkdirAllAndSync(fs FS, dir string) error {
	var created []string // deepest first
	for d := filepath.Clean(dir); !fs.Exists(d); {
		created = append(created, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	// Called even when dir exists: it checks that dir is a directory.
	if err := fs.MkdirAll(dir); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		parent := filepath.Dir(created[i])
		if err := fs.SyncDir(parent); err != nil {
			return fmt.Errorf("vfs: sync %s after creating %s: %w", parent, created[i], err)
		}
	}
	return nil
}
