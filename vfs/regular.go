package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotRegular is the error of OpenRegular for a name that holds
// something other than a regular file. It is wrapped as "not a regular
// file but a named pipe" (or a directory, a dangling symbolic link, a
// socket, a device).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens path for reading, refusing anything but a regular file
// (or a link to one) where fsys is the operating system's filesystem.
// Opening a named pipe planted under a log segment's or a checkpoint's
// name blocks until a writer opens it, so recovery, readers and `mmsb
// check` hung on one; a device would stream forever; a directory failed
// later with a bare "is a directory"; and the "no such file" of a dangling
// link was taken for a file that is not there. The check is by name before
// the open: a file swapped between the two is not defended against
// (nothing here runs against an adversary with write access to the data
// directory). Other filesystems hold only regular files.
func OpenRegular(fsys FS, path string) (File, error) {
	if fsys == Default {
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if lst, lerr := os.Lstat(path); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("%w but a dangling symbolic link", ErrNotRegular)
			}
		}
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%w but %s", ErrNotRegular, fileType(st.Mode()))
		}
	}
	return fsys.Open(path)
}

// fileType names what a non-regular file is, for errors.
func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	default:
		return fmt.Sprintf("of type %v", m.Type())
	}
}
