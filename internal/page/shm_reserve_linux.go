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
func reserveFile(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	switch {
	case err == nil, errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return nil
	}
	return fmt.Errorf("%w: reserve %d bytes of %s: %w", ErrNoSpace, n, f.Name(), err)
}
