package page

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A writer's hold on its region. A region is named after its bus's path,
// and that name can be shared by buses the LOCK of one does not cover: two
// containers that share /dev/shm but not their mounts or PIDs, each with
// its own bus at the same path. Seen from the other one's PID namespace,
// a live writer's process does not exist, so a header check (Alive) takes
// its region for a dead writer's, and an Open without Shared, which
// reclaims a dead writer's region (root shared.go), removed a live one.
// So a writer holds a shared flock(2) on its header file from the time it
// makes it until Close: the kernel drops it when the process dies, and
// flock works across PID namespaces (the file is the same).

// lockShmHeader takes the writer's shared flock on the header file of the
// region being built in dir. Best effort: nil when the file cannot be
// locked (a filesystem without flock), and the region is then judged by
// its header alone, as a region of an older writer is.
func lockShmHeader(dir string) *os.File {
	f, err := os.Open(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		return nil
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil {
		_ = f.Close()
		return nil
	}
	return f
}

// RegionHeld reports whether a writer process holds the region in dir
// (its header's flock), in any process or PID namespace of this kernel.
// Links are not followed (the directory or its header), and false means
// no hold was found: no header, one that cannot be opened, or no writer
// holding it.
func RegionHeld(dir string) bool {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(dfd) }()
	// O_NONBLOCK: a FIFO planted as the header would block the open.
	fd, err := unix.Openat(dfd, ShmHeaderFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(fd) }() // also drops the lock taken below
	return errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
}
