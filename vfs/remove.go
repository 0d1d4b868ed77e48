package vfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// Gradual removal: freeing a large file at once makes the filesystem
// release (and, on a discard mount, trim) all its blocks in one journal
// commit, which the next fsync of any other file waits for. Measured on
// this project's VM (ext4 with discard), a bare 24 KB append + fdatasync
// loop beside a writer that deleted a 1 GiB file every couple of seconds:
// p99 9.6-10.3 ms, max 60-77 ms; shrinking each file in 64 steps with a
// 1 ms pause before unlinking it: p99 4.1-4.5 ms, max 8.7-9.5 ms
// (docs/benchmarks.md). Smaller steps spread the trims thinner: in the
// bus, commits (group sync) while the log segments a checkpoint covered
// were freed had p99 4.2-6.0 ms with 16 MiB steps, 1.9-2.0 ms with 4 MiB
// and 1.1-1.7 ms with 2 MiB (two runs each, docs/benchmarks.md), at the
// cost of a longer removal (about 0.6 s per GiB) on the checkpoint's
// goroutine.

// RemoveStep and RemovePause are RemoveGradually's defaults.
const (
	RemoveStep  = 2 << 20
	RemovePause = time.Millisecond
)

// sleep is time.Sleep; tests count the pauses through it.
var sleep = time.Sleep

// RemoveGradually removes name: it renames it to hidden, a name that its
// readers ignore (a crash mid-way leaves a shortened file there, for them
// to remove at their next open), shrinks it to nothing in steps of step
// bytes, pausing between steps, so that its blocks are freed a few at a
// time, and unlinks it. A file of at most step bytes is removed at once.
// The pause is taken only for a file on storage (one that can start its
// writeback: RangeSyncer): a file in memory has no blocks to spread, and an
// in-memory bus freeing hundreds of 4 MiB log segments after a checkpoint
// would otherwise sleep for each, with its checkpoint still running.
//
// A step of zero or less is refused, before anything is renamed, with an
// error wrapping os.ErrInvalid (fs.ErrInvalid): it used to loop forever
// (zero) or grow the file without end (negative).
//
// A name that holds no regular file is removed at once, without the
// rename: on the operating system's filesystem (through errorfs and Mount
// too) a symbolic link is unlinked, never followed (its target was
// truncated), as are a named pipe, an empty directory and a file with
// other hard links (shrinking it would cut the copies under the other
// names, and free nothing); the link count of the opened file is checked
// again before each step, so a hard link made while the file is being
// removed stops the steps, and the other name keeps what the file held
// then. What the hidden name holds once opened is checked to be the file
// opened: a symbolic link put under the name after the check (the open
// followed it) is unlinked at once, its target left whole. A step that
// fails ends the pacing: the file is unlinked at once, and only a failed
// unlink is returned (the error names both). A name that
// cannot be opened for writing after the rename (a directory in MemFS) is
// unlinked at once under the hidden name instead of left there, or, if it
// cannot be (a directory that holds files), renamed back.
func RemoveGradually(fs FS, name, hidden string, step int64, pause time.Duration) error {
	return RemoveGraduallyUntil(fs, name, hidden, step, pause, nil)
}

// RemoveGraduallyUntil is RemoveGradually until hurry (nil: never) reports
// true, checked before each step: from then on the rest of the file is
// unlinked at once, without further steps or pauses. The pacing exists for
// other writers' fsyncs; a caller whose writers are gone (a bus being
// closed) would otherwise wait about 0.6 s per GiB left for nothing. The
// names and the crash behaviour are RemoveGradually's.
func RemoveGraduallyUntil(fs FS, name, hidden string, step int64, pause time.Duration, hurry func() bool) error {
	if hurry == nil {
		hurry = func() bool { return false }
	}
	if step <= 0 {
		return fmt.Errorf("vfs: remove %s gradually: step of %d bytes: %w", name, step, os.ErrInvalid)
	}
	if osName, ok := onOS(fs, name); ok {
		// Only a regular file has blocks of its own to free. Opening a
		// symbolic link follows it: the steps truncated the file it
		// points to (an archived log segment linked into the log
		// directory was cut from 4,202,721 bytes to 8,417 when the bus
		// pruned the link).
		// Such a name (a link, a named pipe, a directory) is removed at
		// once, as os.Remove does: the link itself, never its target.
		// So is a regular file with other hard links (a backup made with
		// `cp -al` or rsync --link-dest): its blocks stay with the other
		// names, and the steps cut the copy under them (a backup kept 100
		// of its 1000 bytes: TestRemoveGraduallyKeepsHardLinkedCopy).
		if st, err := os.Lstat(osName); err == nil && (!st.Mode().IsRegular() || otherLinks(st)) {
			return fs.Remove(name)
		}
	}
	afterLinkCheck(name)
	if err := fs.Rename(name, hidden); err != nil {
		if holdsDir(fs, hidden) {
			// The hidden name holds a directory (an operator's, a
			// restored backup tree; its caller's cleanup passes over
			// it): no file is renamed over a directory, and it is not
			// the caller's to remove. The file is unlinked at once
			// instead, without the pacing. Before, the rename's "file
			// exists" failed every removal of that name: a log segment
			// whose .del name held a directory was never trimmed, nor a
			// checkpoint pruned (TestRemoveGraduallyHiddenIsDirectory).
			return fs.Remove(name)
		}
		return err
	}
	orig := name
	name = hidden
	f, err := fs.OpenAppend(name)
	if err != nil {
		// What cannot be opened for writing (a directory in MemFS) has
		// nothing to shrink: unlink it at once rather than leave it
		// under the hidden name. What cannot be unlinked either (a
		// directory that holds files) goes back to its name, as the
		// operating system's filesystem leaves it.
		if rerr := fs.Remove(name); rerr != nil {
			_ = fs.Rename(name, orig) // best effort: the error below names both
			return fmt.Errorf("vfs: open %s to remove it: %w (remove: %w)", name, err, rerr)
		}
		return nil
	}
	if osName, ok := onOS(fs, name); ok && !isOpenFile(f, osName) {
		// The name was checked before the rename: what was put under it
		// since (a symbolic link: the open followed it) is not the file
		// opened. Unlinked at once, as a link found by the check is; the
		// file opened is left whole (TestRemoveGraduallyNameSwapped).
		_ = f.Close() // opened for nothing: nothing written through it
		return fs.Remove(name)
	}
	if _, onStorage := f.(RangeSyncer); !onStorage {
		pause = 0
	}
	size, err := f.Size()
	// The check by name above is made before the rename and the open: a
	// hard link made meanwhile (a backup running beside the bus) shares
	// the file just opened, and the steps would cut it. The open file's
	// own link count is checked before each step (an fstat, cheap beside
	// a step of 2 MiB): once it has other links, the rest is unlinked at
	// once and the other names keep what the file held then
	// (TestRemoveGraduallyLinkMadeMidway).
	for err == nil && size > step && !hurry() && !linkedElsewhere(f) {
		size -= step
		if err = f.Truncate(size); err == nil && pause > 0 && !hurry() {
			sleep(pause)
		}
		stepDone(name)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A failed step (an I/O error, a quota) only ends the pacing:
		// the file is unlinked at once. Returned, it was left under the
		// hidden name, which the bus's later prunes do not list, holding
		// what the steps had not freed until the next Open
		// (TestRemoveGraduallyShrinkFails).
		if rerr := fs.Remove(name); rerr != nil {
			return fmt.Errorf("vfs: shrink %s: %w (remove: %w)", name, err, rerr)
		}
		return nil
	}
	return fs.Remove(name)
}

// Test seams: afterLinkCheck runs once the name has been checked for
// other links, stepDone after each shrink step; tests make a hard link
// there, as a backup running beside the bus would.
var (
	afterLinkCheck = func(name string) {}
	stepDone       = func(name string) {}
)

// isOpenFile reports whether the open file f is the regular file osName
// names now (not followed: a symbolic link there is not). Where f's own
// description cannot be read (a wrapper that does not say what it wraps),
// it reports true, as before the check.
func isOpenFile(f File, osName string) bool {
	for range 64 { // wrappers nest a few deep; the bound only stops a cycle
		switch g := f.(type) {
		case osFile:
			fst, err := g.Stat()
			if err != nil {
				return true
			}
			lst, err := os.Lstat(osName)
			return err == nil && lst.Mode().IsRegular() && os.SameFile(fst, lst)
		case interface{ Unwrap() File }:
			f = g.Unwrap()
		default:
			return true
		}
	}
	return true
}

// linkedElsewhere reports whether the open file f is a file of the
// operating system's filesystem (reached through the wrappers that say
// what they wrap: errorfs) with more than one hard link, by fstat of its
// descriptor. A file whose count cannot be read is taken as having none,
// as the check by name takes it.
func linkedElsewhere(f File) bool {
	for range 64 { // wrappers nest a few deep; the bound only stops a cycle
		switch g := f.(type) {
		case osFile:
			st, err := g.Stat()
			return err == nil && otherLinks(st)
		case interface{ Unwrap() File }:
			f = g.Unwrap()
		default:
			return false
		}
	}
	return false
}

// holdsDir reports whether name holds a directory: by Lstat on the
// operating system's filesystem (a symbolic link to one is a link, which
// a rename replaces), by Open's EISDIR on MemFS.
func holdsDir(fs FS, name string) bool {
	if osName, ok := onOS(fs, name); ok {
		st, err := os.Lstat(osName)
		return err == nil && st.IsDir()
	}
	f, err := fs.Open(name)
	if err == nil {
		_ = f.Close() // opened only to look: nothing written
		return false
	}
	return errors.Is(err, syscall.EISDIR)
}
