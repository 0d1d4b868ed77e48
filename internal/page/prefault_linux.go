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
	}
	return fmt.Errorf("%w: pre-fault %d bytes: %w", ErrNoSpace, len(mem), err)
}
