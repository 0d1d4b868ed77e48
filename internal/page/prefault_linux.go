//go:build linux

package page

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// populate faults in every OS page of mem for writing in one system call
// (MADV_POPULATE_WRITE, Linux 5.14+); on older kernels, which reject the
// advice with EINVAL, it touches one byte per OS page instead.
func populate(mem []byte) error {
	err := unix.Madvise(mem, unix.MADV_POPULATE_WRITE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL):
		touchPages(mem)
		return nil
	case errors.Is(err, unix.EFAULT):
		// What a fault that would raise SIGBUS returns: for a shared
		// chunk, its tmpfs has no room left ("bad address" alone named
		// nothing a caller could act on).
		return fmt.Errorf("%w: pre-fault %d bytes: the file behind them cannot be allocated (tmpfs full?): %w", ErrNoSpace, len(mem), err)
	}
	return fmt.Errorf("%w: pre-fault %d bytes: %w", ErrNoSpace, len(mem), err)
}
