package vfs

import (
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// datasync uses fdatasync(2): it skips flushing metadata that reading the
// data back does not need (timestamps), which saves a journal write per
// commit compared with fsync.
func datasync(f *os.File) error {
	fd, err := openFd(f, "fdatasync")
	if err != nil {
		return err
	}
	if err := unix.Fdatasync(fd); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}

// openFd returns f's descriptor, or, once f is closed (its descriptor is
// then -1), an error wrapping os.ErrClosed as the os.File methods and
// MemFS give: the calls below used to run on -1 and report a bare "bad
// file descriptor".
func openFd(f *os.File, op string) (int, error) {
	fd := f.Fd()
	if fd == ^uintptr(0) {
		return -1, &os.PathError{Op: op, Path: f.Name(), Err: os.ErrClosed}
	}
	return int(fd), nil
}

// StartWriteback starts writing [off, off+n) back with sync_file_range
// (SYNC_FILE_RANGE_WRITE): asynchronous, not a durability point.
func (f osFile) StartWriteback(off, n int64) error {
	if n <= 0 {
		return nil
	}
	fd, err := openFd(f.File, "sync_file_range")
	if err != nil {
		return err
	}
	if err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: err}
	}
	return nil
}

// WaitWriteback waits until the writeback of [off, off+n) started earlier
// has finished (and writes back any of it still dirty), with
// sync_file_range: not a durability point.
func (f osFile) WaitWriteback(off, n int64) error {
	if n <= 0 {
		return nil
	}
	const flags = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	fd, err := openFd(f.File, "sync_file_range")
	if err != nil {
		return err
	}
	if err := unix.SyncFileRange(fd, off, n, flags); err != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: err}
	}
	return nil
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
	fd, err := openFd(f.File, "fcntl")
	if err != nil {
		return err
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags); err != nil {
		return &os.PathError{Op: "fcntl O_DIRECT", Path: f.Name(), Err: err}
	}
	return nil
}
