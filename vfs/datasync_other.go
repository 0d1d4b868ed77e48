//go:build !linux

package vfs

import (
	"errors"
	"os"
)

// datasync falls back to (*os.File).Sync where fdatasync(2) is not available
// (on macOS that is fcntl F_FULLFSYNC, the only call that reaches the disk).
func datasync(f *os.File) error { return f.Sync() }

// StartWriteback is a no-op where sync_file_range is not available.
func (f osFile) StartWriteback(off, n int64) error { return nil }

// WaitWriteback is a no-op where sync_file_range is not available.
func (f osFile) WaitWriteback(off, n int64) error { return nil }

// prefaultSupported: no touchAhead where MADV_POPULATE_WRITE is not
// available (reading unmapped memory would map the zero page only).
const prefaultSupported = false

// populate does nothing here.
func populate([]byte) {}

// SetDirect refuses direct writes where O_DIRECT is not available (macOS
// has F_NOCACHE, whose alignment rules differ).
func (f osFile) SetDirect(on bool) error {
	if !on {
		return nil
	}
	return &os.PathError{Op: "set direct", Path: f.Name(), Err: errors.ErrUnsupported}
}

// memoryForHints is the most room a MemFS size hint reserves; the RAM
// bound of Linux (datasync_linux.go) is not computed here.
func memoryForHints() int64 { return maxSizeHint }
