//go:build linux

package page

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// reserveFile allocates bytes [off, off+n) of f (fallocate, mode 0) before
// the store writes them through a shared mapping. A tmpfs page that cannot
// be allocated at the first write is a SIGBUS, which kills the writer; a
// full tmpfs is then ErrNoSpace from the call that needed the room
// instead. A filesystem without fallocate (EOPNOTSUPP) cannot reserve:
// nothing is done there, as before.
//
// A tmpfs stops a fallocate when a signal is pending (EINTR, never
// restarted) and gives back the pages that call allocated: any signal to
// the process (SIGCHLD of a child, SIGPROF of a CPU profile) failed a
// create as ErrNoSpace. The range is allocated in pieces of at most
// reservePiece bytes, each tried again when interrupted: a piece takes
// far less than a profile's 10 ms, where a whole chunk could be
// interrupted at every try (TestReserveFileInterrupted).
func reserveFile(f *os.File, off, n int64) error {
	for end := off + n; off < end; {
		m := min(end-off, reservePiece)
		err := fallocate(int(f.Fd()), 0, off, m)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
			return nil
		case err != nil:
			return fmt.Errorf("%w: reserve %d bytes of %s: %w", ErrNoSpace, n, f.Name(), err)
		}
		off += m
	}
	return nil
}

// reservePiece is the most reserveFile allocates in one fallocate.
const reservePiece = 1 << 20

// fallocate is reserveFile's fallocate(2) (a test seam: an interrupted
// call).
var fallocate = unix.Fallocate
