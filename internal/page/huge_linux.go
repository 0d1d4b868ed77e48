package page

import "golang.org/x/sys/unix"

// adviseHugeRaw asks for transparent huge pages on b. Advisory: errors (no
// THP) are ignored.
func adviseHugeRaw(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
