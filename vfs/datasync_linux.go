package vfs

import (
	"errors"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// datasync uses fdatasync(2): it skips flushing metadata that reading the
// data back does not need (timestamps), which saves a journal write per
// commit compared with fsync.
func datasync(f *os.File) error {
	return withFd(f, "fdatasync", unix.Fdatasync)
}

// withFd runs call on f's descriptor while holding a reference to it (the
// os.File's own count, taken by SyscallConn's Control), so that a Close
// racing the call waits to close(2) the descriptor until the call returns,
// and a call that starts after Close fails with an error wrapping
// os.ErrClosed, as the os.File methods and MemFS give. An error from call
// is returned as a PathError naming op and the file.
//
// These calls used to read the descriptor with Fd() and run on the bare
// number: a Close in between (a data race on the descriptor under -race)
// closed it, and the number, once reused by another open, could have been
// fdatasynced, or had O_DIRECT set, in another file's name. A call after
// Close ran on -1 and reported "bad file descriptor" until it was checked.
func withFd(f *os.File, op string, call func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: err}
	}
	var callErr error
	err = rc.Control(func(fd uintptr) {
		for {
			// As internal/poll's Fsync: a signal can interrupt the call.
			if callErr = call(int(fd)); !errors.Is(callErr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		// Control fails only once Close has begun ("use of closed
		// file", internal/poll's, which os.File's methods report as
		// os.ErrClosed).
		return &os.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	if callErr != nil {
		return &os.PathError{Op: op, Path: f.Name(), Err: callErr}
	}
	return nil
}

// StartWriteback starts writing [off, off+n) back with sync_file_range
// (SYNC_FILE_RANGE_WRITE): asynchronous, not a durability point.
func (f osFile) StartWriteback(off, n int64) error {
	if n <= 0 {
		return nil
	}
	return withFd(f.File, "sync_file_range", func(fd int) error {
		return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// WaitWriteback waits until the writeback of [off, off+n) started earlier
// has finished (and writes back any of it still dirty), with
// sync_file_range: not a durability point.
func (f osFile) WaitWriteback(off, n int64) error {
	if n <= 0 {
		return nil
	}
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	return withFd(f.File, "sync_file_range", func(fd int) error {
		return unix.SyncFileRange(fd, off, n, flags)
	})
}

// memoryForHints is the most room a MemFS size hint reserves: half the
// machine's RAM (sysinfo(2)). Reserving more makes the kernel refuse the
// mapping (its overcommit heuristic compares it with RAM and swap), and
// the Go runtime dies of it ("fatal error: runtime: out of memory") where
// a hint must change nothing: SizeHint(64 GiB) killed a process on a
// 23 GiB machine. A file written that large fails anyway; one hinted
// large and written small must not.
var memoryForHints = sync.OnceValue(func() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil || si.Totalram == 0 {
		return maxSizeHint
	}
	return min(int64(uint64(si.Totalram)*max(uint64(si.Unit), 1)/2), maxSizeHint)
})

// prefaultSupported says whether touchAhead runs: where
// MADV_POPULATE_WRITE maps memory ahead.
const prefaultSupported = true

// populate maps b's whole pages with MADV_POPULATE_WRITE (Linux 5.14+;
// older kernels refuse it and nothing happens). It changes no byte.
func populate(b []byte) {
	const pg = 4096
	start := (pg - int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))%pg) % pg
	if end := start + (len(b)-start)/pg*pg; end > start {
		_ = unix.Madvise(b[start:end], unix.MADV_POPULATE_WRITE)
	}
}

// SetDirect turns O_DIRECT on or off for the file's later writes (fcntl
// F_SETFL). The kernel refuses it with EINVAL where the filesystem cannot
// write directly.
func (f osFile) SetDirect(on bool) error {
	return withFd(f.File, "fcntl O_DIRECT", func(fd int) error {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags)
		return err
	})
}
