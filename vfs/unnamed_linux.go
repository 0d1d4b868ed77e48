package vfs

import (
	"os"

	"golang.org/x/sys/unix"
)

// unnamedFile creates a file in dir that has no name (O_TMPFILE), so the
// kernel frees it when its last descriptor closes, even if the process is
// killed. Filesystems without O_TMPFILE get a named file removed at once.
func unnamedFile(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
	}
	return createRemoved(dir)
}
