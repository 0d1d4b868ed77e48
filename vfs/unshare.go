package vfs

import (
	"fmt"
	"io"
	"os"
)

// Unshare gives name a file of its own before its caller changes it in
// place (truncates it, rewrites it, appends to it), when the file under
// name has other hard links on the operating system's filesystem (through
// errorfs and Mount too): a backup made with `cp -al` or rsync
// --link-dest shares the file, and a change made through name would be
// made to the backup too. Its bytes are copied to tmp, which is fsynced
// and renamed over name, and the directory fsynced; the other names keep
// the old file, untouched. A symbolic link at name is replaced the same
// way by a copy of the file it points to, which is left untouched. It
// reports whether it copied. A regular file with one link, and every file
// of a filesystem that has no hard links (MemFS), is left as it is.
//
// Whatever tmp holds is unlinked first (a symbolic link there is not
// followed); a crash before the rename leaves tmp holding a copy, for the
// caller to remove at its next start. The link count is read from the
// opened file, so a link made after the call is not seen: the caller is
// expected to change the file right away.
func Unshare(fs FS, name, tmp string) (bool, error) {
	osName, ok := onOS(fs, name)
	if !ok {
		return false, nil
	}
	// A symbolic link at name points to another name's file (an archived
	// segment linked back into the log directory): a change made through
	// it would be made to that file, whatever its link count. It is
	// copied too, and the copy renamed over the link itself. Before, the
	// link was followed, its target's single link seen, and a torn tail's
	// cut and the appends after Open went into the archive
	// (TestOpenKeepsHardLinkedBackup, symbolic/).
	lst, err := os.Lstat(osName)
	symbolic := err == nil && lst.Mode()&os.ModeSymlink != 0
	src, err := OpenRegular(fs, name) // a named pipe would block the open
	if err != nil {
		return false, fmt.Errorf("vfs: unshare %s: %w", name, err)
	}
	defer src.Close() //nolint:errcheck // read-only: nothing to lose
	if !symbolic && !linkedElsewhere(src) {
		return false, nil
	}
	// Said in the errors below: an operator whose disk is full is told why
	// a copy was being made at all.
	why := "it has other hard links"
	if symbolic {
		why = "it is a symbolic link"
	}
	// Copied through the one write–sync–close–rename sequence
	// (ReplaceFile), which first unlinks whatever a crash or someone else
	// left under tmp (Create would follow a symbolic link there and
	// truncate its target).
	replaced, err := ReplaceFile(fs, name, tmp, func(dst File) error {
		// The copy keeps the file's permission bits (Create makes it
		// owner only): an operator may have granted a reader group more.
		if osTmp, ok := onOS(fs, tmp); ok {
			if st, err := os.Stat(osName); err == nil {
				_ = os.Chmod(osTmp, st.Mode().Perm()) // best effort: the copy is whole either way
			}
		}
		_, err := io.Copy(dst, io.NewSectionReader(src, 0, 1<<62))
		return err
	})
	if err != nil && !replaced {
		return false, fmt.Errorf("vfs: unshare %s (%s: it is copied to a file of its own before it is changed; it is left as it was): %w", name, why, err)
	}
	if err != nil {
		return true, fmt.Errorf("vfs: unshare %s: %w", name, err)
	}
	return true, nil
}
