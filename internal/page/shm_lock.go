package page

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A writer's hold on its region. A region is named after its bus's path,
// and that name can be shared by buses the LOCK of one does not cover: two
// containers that share /dev/shm but not their mounts or PIDs, each with
// its own bus at the same path. Seen from the other one's PID namespace,
// a live writer's process does not exist, so a header check (Alive) takes
// its region for a dead writer's, and an Open without Shared, which
// reclaims a dead writer's region (root shared.go), removed a live one.
// So a writer holds a shared flock(2) on its header file from the time it
// makes it until Close: the kernel drops it when the process dies, and
// flock works across PID namespaces (the file is the same).

// lockShmHeader takes the writer's shared flock on the header file of the
// region being built in dir. Best effort only where flock itself is
// missing: (nil, nil) when the filesystem does not support it (ENOSYS,
// EOPNOTSUPP), and the region is then judged by its header alone, as a
// region of an older writer is. A header that cannot be opened (out of
// descriptors, EMFILE or ENFILE; the file removed) or a lock refused for
// another reason (ENOLCK) is an error, and the writer's Open fails: the
// writer would otherwise go on as if it held the lock, and its region
// could be taken for a dead writer's and removed. Until 2026-12-07 both
// returned (nil, nil) (TestLockShmHeaderOpenFails; before: "lockShmHeader
// with the header's open failing: no lock and error <nil>").
//
// A lock refused as held (EWOULDBLOCK) is tried again, for up to
// lockShmHeaderWait: RegionHeld's probe takes the exclusive lock for an
// instant, and another bus's Open of the same region name probes this
// build directory (removeBuildDirs in the root package). A lock still
// refused then is ErrHeaderLocked, and the writer's Open fails: a writer
// without its lock has a region that a private Open of that other bus
// takes for a dead writer's and removes (the hole the lock closes).
// Until 2026-12-07 a refusal left the writer going on with no lock at
// all, silently: at first after one try, then after about 100 ms of
// retries, which a probe outlasts whenever its process stalls that long
// between its flock and its close (a container throttled for its CPU
// quota, a loaded machine) (TestLockShmHeaderWaitsOutAProbe,
// TestLockShmHeaderHeldFails).
func lockShmHeader(dir string) (*os.File, error) {
	return lockShmFile(filepath.Join(dir, ShmHeaderFile))
}

// lockShmFile is lockShmHeader for any file of the region, the region
// directory included: a writer holds the same shared flock on its
// directory, so that a region whose header was removed (a writer killed
// while its Close removed the region, or a header removed by hand) can
// still be told from a live writer's (RegionHeld).
func lockShmFile(path string) (*os.File, error) {
	f, err := shmHeaderOpen(path)
	if err != nil {
		return nil, fmt.Errorf("page: lock of shared region file: %w", err)
	}
	deadline := time.Now().Add(lockShmHeaderWait)
	pause := 10 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			_ = f.Close()
			if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
				return nil, nil // no flock on this filesystem: best effort
			}
			return nil, fmt.Errorf("page: lock of shared region file %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("%w: %s: another process held its flock exclusively for over %v (a region probe holds it for an instant)",
				ErrHeaderLocked, path, lockShmHeaderWait)
		}
		if lockShmHeaderRetry != nil {
			lockShmHeaderRetry()
		}
		time.Sleep(pause)
		pause = min(2*pause, time.Millisecond)
	}
}

// ErrHeaderLocked means a new region's header could not be locked:
// another process held its flock exclusively for longer than a probe
// does (lockShmHeader).
var ErrHeaderLocked = errors.New("page: shared region header locked by another process")

// lockShmHeaderWait bounds lockShmHeader's retries (tests shorten it).
var lockShmHeaderWait = 5 * time.Second

// lockShmHeaderRetry, set by tests, runs before each retry of
// lockShmHeader.
var lockShmHeaderRetry func()

// shmHeaderOpen opens the header file for lockShmHeader (a test seam: an
// open that fails for want of descriptors).
var shmHeaderOpen = os.Open

// LockRegionName takes an exclusive flock on the lock file of the region
// name path (path + RegionLockSuffix, beside the regions in SharedDir) and
// returns the function that releases it. Writers of buses that share a
// region name (another container or mount namespace sharing SharedDir;
// the bus LOCK keeps out only a bus's own writers) hold it while they
// check the name (RegionHeldAlone, RegionHeld) and replace or remove
// what is there, so that no other writer publishes between the check
// and the replacement: without it, a writer found a dead region there,
// another bus's writer replaced it with its live one, and the first then
// marked that live region superseded and removed it
// (TestSharedPublishRacesOtherBus in the root package).
//
// The file exists only while held: the holder removes it before it lets
// go, so a SharedDir is left as it was. A waiter that then gets the lock
// of the removed file finds the name free or holding another file, and
// starts again on the file now there (the lock belongs to the file the
// name holds). A lock refused as held is tried again for up to
// regionNameLockWait, then ErrRegionLocked naming the file. Best effort
// where flock is missing (ENOSYS, EOPNOTSUPP): no lock, as for the
// header's, and the file, if this user's, removed at once. The file is
// opened without following links (O_NOFOLLOW), and must be a regular
// file: a link or a FIFO planted under the name is refused, like one held
// for good, as a denial of service. So is a lock file this process may
// not open (another user's): ErrRegionLocked naming it and its owner.
// One it may open but not create (another user's in a sticky SharedDir
// under fs.protected_regular) is opened without O_CREAT and locked.
func LockRegionName(path string) (unlock func(), err error) {
	name := path + RegionLockSuffix
	deadline := time.Now().Add(regionNameLockWait)
	pause := 10 * time.Microsecond
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	retried := false
	for {
		fd, err := regionLockOpen(name, flags|unix.O_CREAT, 0o644)
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			// Another user's lock file in a sticky, world-writable
			// SharedDir (/dev/shm) where fs.protected_regular is set (the
			// default of systemd's distributions): the kernel refuses
			// O_CREAT on it, even to root, though its mode (0644) lets
			// this process open it, and lock it, without. Such a file,
			// left by a killed writer, refused every writer of other
			// users as held (TestLockRegionNameProtectedRegular).
			if fd2, err2 := regionLockOpen(name, flags, 0); err2 == nil {
				fd, err = fd2, nil
			}
		}
		if err != nil {
			// Something other than a regular file planted under the name
			// (a link: ELOOP, EMLINK on FreeBSD; a directory: EISDIR; a
			// socket: ENXIO) is refused as one held for good, as the doc
			// above says: it was a bare errno, no ErrRegionLocked
			// (TestLockRegionNamePlanted).
			var lst unix.Stat_t
			lerr := unix.Lstat(name, &lst)
			if lerr == nil {
				if lst.Mode&unix.S_IFMT != unix.S_IFREG {
					return nil, fmt.Errorf("%w: %s is not a regular file (mode %#o): %w", ErrRegionLocked, name, lst.Mode, err)
				}
				// A lock file this process may not open: another user's
				// (0600, from a writer of that user, held or left
				// behind). The name is that user's until it goes, so
				// this is the name held, not a SharedDir this process
				// may not write, which the bare EACCES made the root
				// package report (TestLockRegionNameOtherUsers).
				if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
					whose := "the lock file of a writer of another user; once no writer of that user runs, that user or root must remove it"
					if int(lst.Uid) == os.Geteuid() {
						whose = "this user's own lock file, refused by its mode or a security policy; once no writer of this user runs, remove it"
					}
					return nil, fmt.Errorf("%w: %s (owner uid %d, mode %#o) cannot be opened by this process (uid %d): %s: %w",
						ErrRegionLocked, name, lst.Uid, lst.Mode&0o7777, os.Geteuid(), whose, err)
				}
			} else if errors.Is(lerr, unix.ENOENT) && (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && !retried {
				// The file refused was removed since (its holder let
				// go): once more, or this process, which may create the
				// file, was told that SharedDir is not writable
				// (TestLockRegionNameOtherUsersRemovedMeanwhile). A
				// SharedDir it may not write refuses again, with no file.
				retried = true
				continue
			}
			return nil, fmt.Errorf("page: lock of shared region name %s: %w", name, noSpace(err))
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("page: lock of shared region name %s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			_ = unix.Close(fd)
			return nil, fmt.Errorf("%w: %s is not a regular file (mode %#o)", ErrRegionLocked, name, st.Mode)
		}
		err = regionLockFlock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if nameHolds(name, &st) {
				return func() {
					// While held (see above), and only the file it locked:
					// one removed by hand while held and made anew by
					// another writer, which holds that one, is not this
					// holder's to remove. It was, and a third writer then
					// made and locked another while the second still held
					// its own (TestLockRegionNameRemovedWhileHeld).
					if nameHolds(name, &st) {
						_ = unix.Unlink(name)
					}
					_ = unix.Close(fd)
				}, nil
			}
			// Its holder removed it before letting go: start again (the
			// deadline below bounds a name that keeps being replaced).
			err = unix.EWOULDBLOCK
		}
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
			// No flock on this filesystem: best effort, no lock. Nobody
			// can hold the file here, so it has no use: one of this
			// user's is removed (while the name is still the file
			// opened), or every Open left it in SharedDir for good
			// (TestLockRegionNameWithoutFlock).
			if int(st.Uid) == os.Geteuid() && nameHolds(name, &st) {
				_ = unix.Unlink(name)
			}
			_ = unix.Close(fd)
			return func() {}, nil
		}
		_ = unix.Close(fd)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("page: lock of shared region name %s: %w", name, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s: another process held it for over %v (a writer holds it while it checks and replaces the region)",
				ErrRegionLocked, name, regionNameLockWait)
		}
		if RegionNameLockRetry != nil {
			RegionNameLockRetry()
		}
		time.Sleep(pause)
		pause = min(2*pause, time.Millisecond)
	}
}

// regionLockOpen and regionLockFlock are LockRegionName's open(2) and
// flock(2) (test seams: a lock file of another user, which a test running
// as root cannot meet; a filesystem without flock).
var (
	regionLockOpen  = unix.Open
	regionLockFlock = unix.Flock
)

// nameHolds reports whether name is, without following a link, the file
// that st describes (LockRegionName).
func nameHolds(name string, st *unix.Stat_t) bool {
	var now unix.Stat_t
	return unix.Lstat(name, &now) == nil && now.Dev == st.Dev && now.Ino == st.Ino
}

// RegionLockSuffix names a region name's lock file (LockRegionName).
const RegionLockSuffix = ".lock"

// ErrRegionLocked means a region name's lock could not be taken
// (LockRegionName).
var ErrRegionLocked = errors.New("page: shared region name locked by another process")

// regionNameLockWait bounds LockRegionName's retries (tests shorten it).
var regionNameLockWait = 5 * time.Second

// RegionNameLockRetry is set by tests only: it runs before each retry of
// LockRegionName (the lock held by another writer).
var RegionNameLockRetry func()

// RegionHeldAlone is RegionHeld for a header that is a regular file with
// no other link: the region a writer made there, not a directory planted
// under a region name whose header is a hard link to another region's
// (anyone may plant one in /dev/shm). A writer's Open refuses a held
// region; a planted link must not make it refuse (it is removed, and the
// header it links to left as it is: MarkSuperseded's rule).
//
// A hold must last to count: a refused probe is tried again for up to
// regionHeldWait, and one lock taken means no writer holds the region.
// Two transient holds are not a writer's: another process's probe of
// the region (RegionHeld's exclusive lock, for an instant), and a
// killed writer of this very bus whose descriptors the kernel is still
// closing one by one (the bus LOCK's may go first: the new writer, which
// got the LOCK, finds the header still locked, for microseconds).
// Refused on one try, the Open failed with ErrLocked blaming "a live
// writer of another bus" (TestRegionHeldAloneWaitsOutAProbe). A probe
// that outlasts the retries (its process stopped) is told from a writer
// by the kind of lock it holds.
func RegionHeldAlone(dir string) bool {
	return regionHeld(dir, true)
}

// regionHeldWait bounds RegionHeldAlone's retries (tests shorten it).
var regionHeldWait = time.Second

// regionHeldRetry, set by tests, runs before each retry of
// RegionHeldAlone.
var regionHeldRetry func()

// RegionHeld reports whether a writer process holds the region in dir
// (the flock on its directory or on its header), in any process or PID
// namespace of this kernel. Links are not followed (the directory or its
// header), and false means no hold was found: no writer holding the
// directory, and no header, one that cannot be opened, or no writer
// holding it. The directory's lock (since 2026-12-07) tells a live
// writer's region whose header was removed from a dead one's.
func RegionHeld(dir string) bool {
	return regionHeld(dir, false)
}

func regionHeld(dir string, alone bool) bool {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(dfd) }() // also drops the lock taken below
	// The directory's lock first: a writer holds it as it holds the
	// header's, and it is there when the header is not (removed by a
	// Close the writer did not finish, or by hand). A directory cannot be
	// hard-linked, and O_NOFOLLOW refuses a symbolic link, so it is the
	// region a writer made.
	if flockHeld(dfd, alone) {
		return true
	}
	// O_NONBLOCK: a FIFO planted as the header would block the open.
	fd, err := unix.Openat(dfd, ShmHeaderFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(fd) }() // also drops the lock taken below
	if alone {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
			return false
		}
	}
	return flockHeld(fd, alone)
}

// flockHeld reports whether a writer holds fd's file (its shared flock).
// Without wait, one exclusive try decides. With it, a refused try is
// repeated for up to regionHeldWait (RegionHeldAlone); the lock taken once
// means no writer holds it. The caller closes fd, which drops a lock
// taken here.
func flockHeld(fd int, wait bool) bool {
	if !wait {
		return errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	}
	deadline := time.Now().Add(regionHeldWait)
	pause := 10 * time.Microsecond
	for {
		if !errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK) {
			return false
		}
		if time.Now().After(deadline) {
			// Refused all along. A writer holds the lock shared, a probe
			// exclusively, and an exclusive lock is granted only where
			// no other lock is held: a shared one refused too means the
			// holder is a probe whose process stalled, and no writer
			// holds the region.
			return !errors.Is(unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
		}
		if regionHeldRetry != nil {
			regionHeldRetry()
		}
		time.Sleep(pause)
		pause = min(2*pause, time.Millisecond)
	}
}
