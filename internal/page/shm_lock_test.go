package page

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestLockShmHeaderWaitsOutAProbe: a writer that takes its header's
// shared flock while a RegionHeld probe (another bus's Open of the same
// region name) holds the exclusive lock for its instant gets the lock
// once the probe let go. Before, one refusal left the writer with no lock
// at all ("lockShmHeader during a probe: no lock").
func TestLockShmHeaderWaitsOutAProbe(t *testing.T) {
	dir, probe := probedHeader(t)
	retries := 0
	lockShmHeaderRetry = func() {
		// The probe ends while the writer waits.
		if retries++; retries == 1 {
			_ = unix.Flock(int(probe.Fd()), unix.LOCK_UN)
		}
	}
	defer func() { lockShmHeaderRetry = nil }()
	f, err := lockShmHeader(dir)
	if f == nil || err != nil {
		t.Fatalf("lockShmHeader during a probe: no lock (%v)", err)
	}
	if !RegionHeld(dir) {
		t.Error("RegionHeld after the writer locked its header: false")
	}
	_ = f.Close()
}

// TestLockShmHeaderHeldFails: a header whose exclusive flock another
// process keeps past lockShmHeaderWait (shortened here) is refused with
// ErrHeaderLocked naming the file, after retries, so that the writer's
// Open fails. Before, the writer went on without its lock, silently
// (after some 100 ms of retries, which a stalled probe outlasts), and its
// region could be taken for a dead writer's and removed by a private Open
// of another bus of the same region name.
func TestLockShmHeaderHeldFails(t *testing.T) {
	dir, _ := probedHeader(t)
	retries := 0
	lockShmHeaderRetry = func() { retries++ }
	saved := lockShmHeaderWait
	lockShmHeaderWait = 20 * time.Millisecond
	defer func() { lockShmHeaderRetry, lockShmHeaderWait = nil, saved }()
	f, err := lockShmHeader(dir)
	if f != nil {
		_ = f.Close()
		t.Fatal("lockShmHeader under an exclusive lock held for good took a lock")
	}
	if !errors.Is(err, ErrHeaderLocked) || !strings.Contains(err.Error(), filepath.Join(dir, ShmHeaderFile)) {
		t.Fatalf("lockShmHeader under an exclusive lock held for good: no lock and error %v; want ErrHeaderLocked naming the header (the writer must not go on unlocked)", err)
	}
	if retries == 0 {
		t.Error("lockShmHeader under a held lock gave up without retrying")
	}
}

// TestLockShmHeaderOpenFails: a writer whose header cannot be opened for
// its lock (out of descriptors) gets an error naming the cause, and
// NewShared fails and leaves no build directory, instead of a writer
// going on without its lock. Before, lockShmHeader returned no lock and
// no error, and the region of that live writer could be taken for a dead
// writer's and removed by another bus's Open of the same region name.
func TestLockShmHeaderOpenFails(t *testing.T) {
	shmHeaderOpen = func(string) (*os.File, error) { return nil, unix.EMFILE }
	defer func() { shmHeaderOpen = os.Open }()
	dir := t.TempDir()
	f, err := lockShmHeader(dir)
	if f != nil || !errors.Is(err, unix.EMFILE) {
		if f != nil {
			_ = f.Close()
		}
		t.Fatalf("lockShmHeader with the header's open failing: no lock and error %v; want EMFILE (the writer must not go on unlocked)", err)
	}
	build := filepath.Join(dir, "build")
	s, err := NewShared(build, 0o600, 1, uint64(os.Getpid()), 1)
	if err == nil {
		_ = s.Close()
		t.Fatal("NewShared whose header lock could not be taken: nil error")
	}
	if !errors.Is(err, unix.EMFILE) {
		t.Errorf("NewShared whose header lock could not be taken: %v; want EMFILE", err)
	}
	if _, err := os.Lstat(build); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewShared that failed to lock its header left its directory: %v", err)
	}
}

// probedHeader makes a header file in a fresh directory and takes its
// exclusive flock on a descriptor of its own, as RegionHeld's probe does
// (held until the test ends or it unlocks).
func probedHeader(t *testing.T) (string, *os.File) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ShmHeaderFile), make([]byte, shmHdrSize), 0o600); err != nil {
		t.Fatal(err)
	}
	probe, err := os.Open(filepath.Join(dir, ShmHeaderFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = probe.Close() })
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		testutil.Missing(t, "no flock here: %v", err)
	}
	return dir, probe
}

// TestRegionHeldAloneWaitsOutAProbe: a writer's Open asks
// RegionHeldAlone whether its region name is held by another bus's live
// writer, and refuses the region if so. A hold that ends while it asks
// is not one: another process's probe (its exclusive lock, for an
// instant) or a killed writer's shared lock that the kernel drops a few
// microseconds after the bus LOCK. Before, one refused try made the Open
// fail ("RegionHeldAlone while a probe held the header for an instant:
// true"). A writer's lock held for good is still found.
func TestRegionHeldAloneWaitsOutAProbe(t *testing.T) {
	dir, probe := probedHeader(t)
	retries := 0
	regionHeldRetry = func() {
		if retries++; retries == 1 {
			_ = unix.Flock(int(probe.Fd()), unix.LOCK_UN)
		}
	}
	saved := regionHeldWait
	regionHeldWait = 20 * time.Millisecond
	defer func() { regionHeldRetry, regionHeldWait = nil, saved }()
	if RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a probe held the header for an instant: true; want false (no writer holds it)")
	}

	// A writer's shared lock, held for good.
	if err := unix.Flock(int(probe.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	retries = 2 // past the release above
	if !RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a writer holds the header: false")
	}
	if retries == 2 {
		t.Error("RegionHeldAlone found a held region without retrying")
	}
}

// TestRegionHeldAloneProbeHeldForGood: a probe's exclusive lock that
// outlasts RegionHeldAlone's retries (its process stopped between its
// flock and its close) is not a writer's hold: a writer holds the lock
// shared, and an exclusive lock excludes every other. Before, the Open
// was refused as if a live writer of another bus held the region
// ("RegionHeldAlone while a probe held the header for good: true").
func TestRegionHeldAloneProbeHeldForGood(t *testing.T) {
	dir, _ := probedHeader(t)
	saved := regionHeldWait
	regionHeldWait = 20 * time.Millisecond
	defer func() { regionHeldWait = saved }()
	if RegionHeldAlone(dir) {
		t.Fatal("RegionHeldAlone while a probe held the header for good: true; want false (no writer holds it)")
	}
}

// TestLockRegionName: the region name's lock (LockRegionName) is held by
// one writer at a time; a waiter gets it once the holder let go (the
// holder's file removed, the waiter's made anew), a lock held for good is
// ErrRegionLocked naming the file after the retries, a symbolic link
// planted under the lock's name is refused without being followed, and
// nothing is left in the directory once released.
func TestLockRegionName(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "mmsb-x")
	unlockA, err := LockRegionName(name)
	if err != nil {
		t.Fatal(err)
	}
	saved := regionNameLockWait
	regionNameLockWait = 20 * time.Millisecond
	defer func() { regionNameLockWait, RegionNameLockRetry = saved, nil }()
	if _, err := LockRegionName(name); !errors.Is(err, ErrRegionLocked) || !strings.Contains(err.Error(), name+RegionLockSuffix) {
		t.Fatalf("LockRegionName while another holds it: %v; want ErrRegionLocked naming the lock file", err)
	}
	regionNameLockWait = time.Minute
	waiting := make(chan struct{})
	RegionNameLockRetry = func() {
		if waiting != nil {
			close(waiting)
			waiting = nil
		}
	}
	w := waiting
	got := make(chan error, 1)
	var unlockB func()
	go func() {
		var err error
		unlockB, err = LockRegionName(name)
		got <- err
	}()
	<-w // B waits for A
	unlockA()
	if err := <-got; err != nil {
		t.Fatalf("LockRegionName after the holder let go: %v", err)
	}
	if _, err := os.Lstat(name + RegionLockSuffix); err != nil {
		t.Fatalf("lock file while held: %v", err)
	}
	unlockB()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("directory after the lock was released: %d entries (%v), want none", len(ents), err)
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), name+RegionLockSuffix); err != nil {
		t.Fatal(err)
	}
	if unlock, err := LockRegionName(name); err == nil {
		unlock()
		t.Fatal("LockRegionName over a planted symbolic link: nil error")
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LockRegionName followed a planted link: %v", err)
	}
}

// TestLockRegionNameRemovedWhileHeld: a lock file removed while held (by
// hand, "rm /dev/shm/mmsb-*") lets a second writer make and lock a new
// one. The first holder's release then removed that second file by name,
// and a third writer made and locked a third while the second still held
// its own: two holders of the name. Now a holder removes the name only
// while it is still the file it locked.
func TestLockRegionNameRemovedWhileHeld(t *testing.T) {
	name := filepath.Join(t.TempDir(), "mmsb-x")
	unlockA, err := LockRegionName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name + RegionLockSuffix); err != nil {
		t.Fatal(err)
	}
	unlockB, err := LockRegionName(name)
	if err != nil {
		unlockA()
		t.Fatal(err)
	}
	defer unlockB()
	unlockA()
	if _, err := os.Lstat(name + RegionLockSuffix); err != nil {
		t.Errorf("the second holder's lock file after the first let go: %v; want it there", err)
	}
	saved := regionNameLockWait
	regionNameLockWait = 20 * time.Millisecond
	defer func() { regionNameLockWait = saved }()
	if unlockC, err := LockRegionName(name); !errors.Is(err, ErrRegionLocked) {
		if err == nil {
			unlockC()
		}
		t.Fatalf("LockRegionName while the second holder holds it: %v; want ErrRegionLocked", err)
	}
}

// TestLockRegionNamePlanted: a symbolic link, a directory or a FIFO
// planted under the lock file's name is refused with ErrRegionLocked
// naming it, as one held for good, and nothing it points at is made. A
// link and a directory were a bare errno (ELOOP, EISDIR), which the root
// package's Open did not report as ErrLocked.
func TestLockRegionNamePlanted(t *testing.T) {
	dir := t.TempDir()
	plant := map[string]func(string) error{
		"link":      func(p string) error { return os.Symlink(filepath.Join(dir, "elsewhere"), p) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"fifo":      func(p string) error { return unix.Mkfifo(p, 0o600) },
	}
	for _, kind := range []string{"link", "directory", "fifo"} {
		name := filepath.Join(dir, "mmsb-"+kind)
		if err := plant[kind](name + RegionLockSuffix); err != nil {
			t.Fatal(err)
		}
		unlock, err := LockRegionName(name)
		if err == nil {
			unlock()
		}
		if !errors.Is(err, ErrRegionLocked) || !strings.Contains(err.Error(), name+RegionLockSuffix) {
			t.Errorf("LockRegionName over a planted %s: %v; want ErrRegionLocked naming the lock file", kind, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LockRegionName followed a planted link: %v", err)
	}
}

// TestLockRegionNameOtherUsers: a lock file left (or held) by a writer of
// another user, 0600, cannot be opened by this one. That was the bare
// EACCES, which the root package's Open reported as "SharedDir ... is not
// writable"; now it is ErrRegionLocked naming the file and its owner. The
// open is refused through the test seam (tests run as root, which opens
// anything). Control: the same refusal with no file under the name (a
// SharedDir this process may not write) stays the permission error.
func TestLockRegionNameOtherUsers(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "mmsb-x")
	regionLockOpen = func(string, int, uint32) (int, error) { return -1, unix.EACCES }
	defer func() { regionLockOpen = unix.Open }()
	unlock, err := LockRegionName(name)
	if err == nil {
		unlock()
		t.Fatal("LockRegionName with its open refused: nil error")
	}
	if errors.Is(err, ErrRegionLocked) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("LockRegionName refused its open with no lock file there: %v; want the permission error, no ErrRegionLocked", err)
	}
	if err := os.WriteFile(name+RegionLockSuffix, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unlock, err = LockRegionName(name)
	if err == nil {
		unlock()
		t.Fatal("LockRegionName over a lock file it may not open: nil error")
	}
	if !errors.Is(err, ErrRegionLocked) || !strings.Contains(err.Error(), name+RegionLockSuffix) || !strings.Contains(err.Error(), "owner uid") {
		t.Fatalf("LockRegionName over a lock file it may not open: %v; want ErrRegionLocked naming the file and its owner", err)
	}
	// This user's own file is not called another user's (it was).
	if strings.Contains(err.Error(), "another user") {
		t.Errorf("LockRegionName over its own user's lock file it may not open: %v; want no \"another user\"", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(name+RegionLockSuffix, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := LockRegionName(name); !errors.Is(err, ErrRegionLocked) || !strings.Contains(err.Error(), "owner uid 65534") || !strings.Contains(err.Error(), "another user") {
			t.Errorf("LockRegionName over uid 65534's lock file it may not open: %v; want ErrRegionLocked naming another user, uid 65534", err)
		}
	}
}

// TestLockRegionNameWithoutFlock: on a filesystem without flock (ENOSYS,
// EOPNOTSUPP, through the test seam) the name's lock is best effort, and
// the lock file it made is removed at once: it was left in SharedDir by
// every Open, since only a holder removed it. A lock refused for another
// reason (ENOLCK) fails, and leaves a file another process may hold.
func TestLockRegionNameWithoutFlock(t *testing.T) {
	defer func() { regionLockFlock = unix.Flock }()
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EOPNOTSUPP} {
		dir := t.TempDir()
		name := filepath.Join(dir, "mmsb-x")
		regionLockFlock = func(int, int) error { return errno }
		unlock, err := LockRegionName(name)
		if err != nil {
			t.Fatalf("LockRegionName without flock (%v): %v", errno, err)
		}
		if _, err := os.Lstat(name + RegionLockSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lock file without flock (%v), before unlock: %v; want none", errno, err)
		}
		unlock()
		if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
			t.Errorf("directory after a lock without flock (%v): %d entries (%v), want none", errno, len(ents), err)
		}
	}
	regionLockFlock = func(int, int) error { return unix.ENOLCK }
	name := filepath.Join(t.TempDir(), "mmsb-x")
	if unlock, err := LockRegionName(name); !errors.Is(err, unix.ENOLCK) {
		if err == nil {
			unlock()
		}
		t.Fatalf("LockRegionName with flock refused (ENOLCK): %v; want the error", err)
	}
	// The file it made stays (docs/shm.md), and the next lock takes it.
	if _, err := os.Lstat(name + RegionLockSuffix); err != nil {
		t.Errorf("lock file after ENOLCK: %v; want it left", err)
	}
	regionLockFlock = unix.Flock
	unlock, err := LockRegionName(name)
	if err != nil {
		t.Fatalf("LockRegionName over the file ENOLCK left: %v", err)
	}
	unlock()
}

// TestLockRegionNameProtectedRegular: another user's lock file (0644)
// left in a sticky, world-writable SharedDir such as /dev/shm, where
// fs.protected_regular is set (the default of systemd's distributions):
// the kernel refuses O_CREAT on it, even to root, though its mode lets
// this process open it without. The seam refuses exactly that (the
// sysctl is the host's). The writer opens it without O_CREAT and holds
// its flock: a second locker is refused as held, and the release lets a
// third take it. Before, every writer of other users was refused as held
// by that file for good ("... cannot be opened by this process"). A
// read-only filesystem's EROFS is no lock held (control).
func TestLockRegionNameProtectedRegular(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "mmsb-x")
	if err := os.WriteFile(name+RegionLockSuffix, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(name+RegionLockSuffix, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	refused := unix.Errno(unix.EACCES)
	regionLockOpen = func(path string, flags int, mode uint32) (int, error) {
		if flags&unix.O_CREAT != 0 {
			if _, err := os.Lstat(path); err == nil {
				return -1, refused
			}
		}
		return unix.Open(path, flags, mode)
	}
	saved := regionNameLockWait
	regionNameLockWait = 20 * time.Millisecond
	defer func() { regionLockOpen, regionNameLockWait = unix.Open, saved }()
	unlock, err := LockRegionName(name)
	if err != nil {
		t.Fatalf("LockRegionName over another user's lock file it may open but not create: %v", err)
	}
	if unlock2, err := LockRegionName(name); !errors.Is(err, ErrRegionLocked) {
		if err == nil {
			unlock2()
		}
		t.Fatalf("second LockRegionName while the first holds the file: %v; want ErrRegionLocked", err)
	}
	unlock()
	unlock, err = LockRegionName(name)
	if err != nil {
		t.Fatalf("LockRegionName after the release: %v", err)
	}
	unlock()
	refused = unix.EROFS
	if err := os.WriteFile(name+RegionLockSuffix, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	regionLockOpen = func(string, int, uint32) (int, error) { return -1, refused }
	if unlock, err := LockRegionName(name); err == nil || errors.Is(err, ErrRegionLocked) || !errors.Is(err, unix.EROFS) {
		if err == nil {
			unlock()
		}
		t.Fatalf("LockRegionName on a read-only filesystem: %v; want EROFS, no ErrRegionLocked", err)
	}
}

// TestLockRegionNameOtherUsersRemovedMeanwhile: a lock file that this
// process could not open, removed before its refusal was looked into (its
// holder, another user's writer, let go meanwhile), is tried again: the
// name is free. Before, the refusal stood with no file to name, and the
// root package reported "SharedDir ... is not writable".
func TestLockRegionNameOtherUsersRemovedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "mmsb-x")
	if err := os.WriteFile(name+RegionLockSuffix, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	regionLockOpen = func(path string, flags int, mode uint32) (int, error) {
		if _, err := os.Lstat(path); err == nil {
			// Refused, and the holder removes its file at once.
			if err := os.Remove(path); err != nil {
				return -1, err
			}
			return -1, unix.EACCES
		}
		return unix.Open(path, flags, mode)
	}
	defer func() { regionLockOpen = unix.Open }()
	unlock, err := LockRegionName(name)
	if err != nil {
		t.Fatalf("LockRegionName over a lock file removed after its open was refused: %v; want the lock", err)
	}
	unlock()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("directory after the lock's release: %d entries (%v), want none", len(ents), err)
	}
}
