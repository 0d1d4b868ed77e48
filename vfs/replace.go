package vfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReplaceFile makes name hold what write writes, crash safely: whatever a
// crash or someone else left under tmp is removed first (Create would
// follow a symbolic link there and truncate its target), tmp is created,
// written by write, fsynced and closed, renamed over name, and the
// directory fsynced. A crash leaves name holding its old file or the new
// one, never a part of it (and perhaps tmp, which the next call removes).
// It is the one write–sync–close–rename sequence of the package and its
// callers (Unshare, the log's mode file and its empty segments).
//
// On an error before the rename, tmp is removed (best effort) and name is
// left as it was; replaced is false. Once the rename is made, replaced is
// true: an error then is the directory's fsync's, and name holds the new
// file, which a power failure may still undo. Each error names the step
// and the path it failed on.
//
// A tmp that names name itself (after filepath.Clean, or, on the
// operating system's filesystem, through another spelling of its
// directory: a symbolic link to it, a relative path, another case of the
// name where names ignore case) is refused with an error wrapping
// os.ErrInvalid, before anything is touched: the first step would remove
// the file it is to replace, a failed write would leave nothing under
// name, and a crash before the rename would lose it
// (TestReplaceFileRefusesTempNamingName,
// TestReplaceFileRefusesTempThroughLinkedDir). A tmp that is another hard
// link to name's file is not refused: removing it leaves name as it is.
func ReplaceFile(fs FS, name, tmp string, write func(File) error) (replaced bool, err error) {
	if filepath.Clean(tmp) == filepath.Clean(name) || sameEntry(fs, name, tmp) {
		return false, fmt.Errorf("replace %s: temporary name %s names the file itself: %w", name, tmp, os.ErrInvalid)
	}
	if err := fs.Remove(tmp); err != nil && !IsNotExist(err) {
		return false, fmt.Errorf("remove %s: %w", tmp, err)
	}
	f, err := fs.Create(tmp)
	if err != nil {
		return false, fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := write(f); err != nil {
		return false, failReplace(fs, f, tmp, fmt.Errorf("write %s: %w", tmp, err))
	}
	if err := f.Sync(); err != nil {
		return false, failReplace(fs, f, tmp, fmt.Errorf("fsync %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		return false, failReplace(fs, nil, tmp, fmt.Errorf("close %s: %w", tmp, err))
	}
	if err := fs.Rename(tmp, name); err != nil {
		return false, failReplace(fs, nil, tmp, fmt.Errorf("rename %s to %s: %w", tmp, name, err))
	}
	dir := filepath.Dir(name) // as MkdirAllAndSync: names are slash-separated paths
	if err := fs.SyncDir(dir); err != nil {
		return true, fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return true, nil
}

// sameEntry reports whether tmp, spelt otherwise than name, names the
// same directory entry of the operating system's filesystem: their
// directories are one (os.SameFile: a symbolic link to it, a relative
// spelling, a bind mount) and their last elements equal, or equal but for
// case and the same file (a filesystem that ignores case; on one that
// does not, two such hard links are refused too, which loses nothing).
// Elsewhere (vfs.MemFS, a name that does not stat) it reports false and
// filepath.Clean's comparison alone decides.
func sameEntry(fs FS, name, tmp string) bool {
	osName, ok := onOS(fs, name)
	if !ok {
		return false
	}
	osTmp, ok := onOS(fs, tmp)
	if !ok {
		return false
	}
	dn, err := os.Stat(filepath.Dir(osName))
	if err != nil {
		return false
	}
	dt, err := os.Stat(filepath.Dir(osTmp))
	if err != nil || !os.SameFile(dn, dt) {
		return false
	}
	bn, bt := filepath.Base(osName), filepath.Base(osTmp)
	if bn == bt {
		return true
	}
	if !strings.EqualFold(bn, bt) {
		return false
	}
	ln, err := os.Lstat(osName)
	if err != nil {
		return false
	}
	lt, err := os.Lstat(osTmp)
	return err == nil && os.SameFile(ln, lt)
}

// failReplace closes f (when still open) and removes tmp, both best
// effort: err, the step that failed, is the one to report.
func failReplace(fs FS, f File, tmp string, err error) error {
	if f != nil {
		_ = f.Close()
	}
	if rerr := fs.Remove(tmp); rerr != nil && !IsNotExist(rerr) {
		return errors.Join(err, fmt.Errorf("remove %s after the failure: %w", tmp, rerr))
	}
	return err
}
