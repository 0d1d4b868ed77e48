//go:build unix

package vfs

import (
	"os"
	"syscall"
)

// otherLinks reports whether st, from os.Lstat, describes a file with more
// than one hard link: its blocks belong to the other names too.
func otherLinks(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && uint64(sys.Nlink) > 1
}
