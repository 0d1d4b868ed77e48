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

// ErrDanglingLink is wrapped, beside ErrNotRegular, by OpenRegular's error
// for a symbolic link whose target does not exist: unlike a directory or
// a named pipe under a file's name, it may stand for a file that is
// missing (moved to a disk that is not mounted), which recovery must not
// pass over as if nothing were there.
var ErrDanglingLink = errors.New("dangling symbolic link")

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
//
// A filesystem that passes names through to the operating system's is
// checked the same way: one whose Unwrap method returns it (an errorfs
// wrapper) and a Mount serving path from it. Before, only Default itself
// was checked, so a log read through errorfs.Wrap(vfs.Default, ...) opened
// a directory, or waited on a named pipe, as the checks above were made
// to prevent.
func OpenRegular(fsys FS, path string) (File, error) {
	if osName, ok := onOS(fsys, path); ok {
		st, err := os.Stat(osName)
		if errors.Is(err, fs.ErrNotExist) {
			if lst, lerr := os.Lstat(osName); lerr == nil && lst.Mode()&fs.ModeSymlink != 0 {
				return nil, fmt.Errorf("%w but a %w", ErrNotRegular, ErrDanglingLink)
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

// onOS reports whether fsys serves name from the operating system's
// filesystem, and under which name there: through Unwrap (errorfs) and
// Mount's routing, as far as they lead.
func onOS(fsys FS, name string) (string, bool) {
	for range 64 { // wrappers nest a few deep; the bound only stops a cycle
		switch f := fsys.(type) {
		case osFS:
			return name, true
		case *mountFS:
			fsys, name, _ = f.route(name)
		case interface{ Unwrap() FS }:
			fsys = f.Unwrap()
		default:
			return "", false
		}
	}
	return "", false
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
