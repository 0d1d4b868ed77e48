package page

import "golang.org/x/sys/unix"

// onTmpfs reports whether the directory open as fd is on a tmpfs, where a
// file's allocated blocks are exactly the pages written or reserved
// (checkSlotsBacked).
func onTmpfs(fd int) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(fd, &st) == nil && st.Type == unix.TMPFS_MAGIC
}

// allocatedAt returns the bytes the filesystem allocated to file name of
// directory dirFD (its blocks, not its size), without following a link.
func allocatedAt(dirFD int, name string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirFD, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, err
	}
	return st.Blocks * 512, nil
}
