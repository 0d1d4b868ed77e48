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
// region being built in dir. Best effort where flock itself is missing:
// (nil, nil) when the file cannot be opened or the filesystem refuses the
// lock for any reason but another holder, and the region is then judged
// by its header alone, as a region of an older writer is.
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
	path := filepath.Join(dir, ShmHeaderFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil
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
			return nil, nil // no flock here: best effort
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
// (its header's flock), in any process or PID namespace of this kernel.
// Links are not followed (the directory or its header), and false means
// no hold was found: no header, one that cannot be opened, or no writer
// holding it.
func RegionHeld(dir string) bool {
	return regionHeld(dir, false)
}

func regionHeld(dir string, alone bool) bool {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(dfd) }()
	// O_NONBLOCK: a FIFO planted as the header would block the open.
	fd, err := unix.Openat(dfd, ShmHeaderFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { _ = unix.Close(fd) }() // also drops the lock taken below
	if !alone {
		return errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		return false
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
