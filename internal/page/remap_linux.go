//go:build linux

package page

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// remap grows a mapping to n bytes with mremap, letting the kernel move it:
// page tables are transferred, no byte is copied and no dead copy remains.
func remap(old []byte, n int) ([]byte, error) {
	b, err := unix.Mremap(old, n, unix.MREMAP_MAYMOVE)
	if err != nil {
		return nil, fmt.Errorf("%w: mremap %d -> %d bytes: %w", ErrNoSpace, len(old), n, err)
	}
	return b, nil
}
