package mmsb

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/vfs"
)

// Shared mode, writer side (docs/shm.md). The store's page chunks and slot
// arrays are built in a private directory during recovery and published
// under the bus's region name once recovery succeeded, so a reader never
// maps a half-recovered region.

// DefaultSharedDir is where shared regions live unless Options.SharedDir
// or ReaderOptions.SharedDir says otherwise. It is tmpfs on Linux: page
// bytes are never written back to disk by the kernel.
const DefaultSharedDir = "/dev/shm"

// SharedRegionPath returns the directory of the shared region of the bus in
// dir: "mmsb-" and the first 16 bytes (hex) of the SHA-256 of dir's
// absolute path (symbolic links resolved when dir exists, so a writer and
// a reader that name the bus through different links agree), under
// sharedDir (DefaultSharedDir when ""). The result is absolute: a relative
// sharedDir is taken from the working directory now. An empty dir (an
// in-memory bus, which has no region) is ErrInvalidOption.
func SharedRegionPath(dir, sharedDir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%w: bus directory is empty: an in-memory bus has no shared region", ErrInvalidOption)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%w: bus directory %q: %w", ErrInvalidOption, dir, err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	if sharedDir == "" {
		sharedDir = DefaultSharedDir
	}
	// Absolute, because the writer keeps using the path after Open: with a
	// relative one, a process that changed its working directory grew
	// its slot arrays and made chunks elsewhere (the bus failed), Close
	// removed nothing, and SharedPath named nothing for other processes.
	sharedAbs, err := filepath.Abs(sharedDir)
	if err != nil {
		return "", fmt.Errorf("%w: SharedDir %q: %w", ErrInvalidOption, sharedDir, err)
	}
	sum := sha256.Sum256([]byte(filepath.Clean(abs)))
	return filepath.Join(sharedAbs, "mmsb-"+hex.EncodeToString(sum[:16])), nil
}

// sharedClock is the clock generations are taken from (a test seam).
var sharedClock = func() int64 { return time.Now().UnixNano() }

// lastSharedGen is the last generation this process gave a region.
var lastSharedGen atomic.Uint64

// nextSharedGen returns a region generation: the wall clock in
// nanoseconds, but above every generation this process gave before. A
// generation only has to differ between opens (it is not bus state, so
// wall time is fine), and a Reader with Reattach takes a region of the
// generation it holds for the one it already read: with a clock that
// stood still or stepped back (a VM restored from a snapshot, a clock
// frozen in tests), a reopen in the same process made a region of the
// same generation and such a Reader never followed it
// (TestSharedGenerationMovesWithFrozenClock). Another process's writer
// differs by its process ID and start time, which Reattach compares too.
func nextSharedGen() uint64 {
	for {
		last, now := lastSharedGen.Load(), uint64(sharedClock())
		gen := max(now, last+1)
		if lastSharedGen.CompareAndSwap(last, gen) {
			return gen
		}
	}
}

// sharedRegionPath checks a shared bus's options and returns where its
// region will be published. Open calls it before it makes or locks the
// bus directory: called after, a SharedDir that did not exist left a new
// directory holding only a LOCK, which the next command took for a bus
// (TestSharedBadSharedDirLeavesNothing).
func (e *Bus) sharedRegionPath() (string, error) {
	if e.memory {
		return "", fmt.Errorf("%w: Shared needs an on-disk bus (dir is empty)", ErrInvalidOption)
	}
	if e.fs != vfs.Default {
		return "", fmt.Errorf("%w: Shared needs the OS filesystem (Options.FS)", ErrInvalidOption)
	}
	final, err := SharedRegionPath(e.dir, e.opts.SharedDir)
	if err != nil {
		return "", err
	}
	// Checked here so that the error names the option, not a build path.
	parent := filepath.Dir(final)
	if st, err := os.Stat(parent); err != nil {
		return "", fmt.Errorf("%w: SharedDir %s: %w", ErrInvalidOption, parent, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("%w: SharedDir %s is not a directory", ErrInvalidOption, parent)
	}
	return final, nil
}

// openShared replaces the empty private store by a shared one built in a
// fresh directory, to be published at final (sharedRegionPath). Caller
// holds the bus LOCK, so no other writer of this bus builds or publishes
// concurrently.
func (e *Bus) openShared(final string) error {
	parent := filepath.Dir(final)
	pid := os.Getpid()
	start, err := page.ProcStartTime(pid)
	if err != nil {
		return fmt.Errorf("mmsb: shared mode: %w", err)
	}
	perm := os.FileMode(0o600)
	if e.opts.SharedGroup {
		perm = 0o640
	}
	gen := nextSharedGen()
	build := final + ".building-" + strconv.Itoa(pid)
	// Under the region name's lock (publishShared): another bus's writer
	// of the same name does not make its build directory, unlocked yet,
	// between the check of one and its removal here.
	unlock, err := page.LockRegionName(final)
	if err != nil {
		return sharedOpenErr(err, parent)
	}
	removeBuildDirs(final)
	if err := regionHeldErr(final); err != nil {
		unlock()
		return err
	}
	st, err := page.NewShared(build, perm, gen, uint64(pid), start)
	unlock()
	if err != nil {
		return sharedOpenErr(err, parent)
	}
	// The private store's settings, which this store replaces: its memory
	// policy and, when page memory is pre-faulted, the bound on it (the
	// machine's memory). Without the bound a shared bus pre-faulted a
	// create batch chunk by chunk into a tmpfs larger than the machine's
	// memory, where a private bus refuses it before mapping anything
	// (TestSharedCreateBeyondPhysicalMemory).
	st.SetMemoryPolicy(e.opts.memoryPolicy())
	if !e.opts.LazyPageMemory {
		st.SetArenaLimit(physicalMemory())
	}
	e.store = st
	e.shared = true
	e.sharedDir = final
	return nil
}

// sharedOpenErr names what failed when openShared could not lock the
// region name or make its build directory in parent (SharedDir), or
// publishRegion could not lock the region name.
func sharedOpenErr(err error, parent string) error {
	// The new header's flock, or the region name's lock, held by
	// another process past a probe's instant (page.ErrHeaderLocked,
	// page.ErrRegionLocked): the region cannot be kept from being
	// taken for a dead writer's, so it is not made at all.
	if errors.Is(err, page.ErrHeaderLocked) || errors.Is(err, page.ErrRegionLocked) {
		return fmt.Errorf("%w: shared mode: %w", ErrLocked, err)
	}
	// No room in SharedDir (or no memory for the mappings): the
	// sentinel a create refused for space gives, so that a caller can
	// tell it from other failures. Only for those causes: the page
	// package files every failed mmap under its ErrNoSpace, and a
	// filesystem that cannot map files (ENODEV) is not short of room.
	if errors.Is(err, page.ErrNoSpace) && (errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.ENOMEM)) {
		return fmt.Errorf("%w: shared mode: %w", ErrNoSpace, err)
	}
	// A SharedDir this process may not write (no write or search
	// permission, a read-only filesystem: the build directory's
	// mkdir, or a file's creation, refused) can never hold a region:
	// named by the option, as a missing one is. A refused mmap is
	// page.ErrNoSpace and stays as it is.
	if !errors.Is(err, page.ErrNoSpace) && (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) {
		return fmt.Errorf("%w: SharedDir %s is not writable: %w", ErrInvalidOption, parent, err)
	}
	// A SharedDir whose filesystem cannot hold the region's files
	// (hugetlbfs refuses a 4 KiB file with EINVAL; a filesystem
	// that cannot map files gives ENODEV; procfs refuses the mkdir
	// with ENOENT), or whose path leaves no room for their names
	// (ENAMETOOLONG), is the option's fault too: it was a bare
	// errno, no sentinel of the package (TestSharedDirCannotHoldRegion).
	if errors.Is(err, syscall.ENAMETOOLONG) {
		return fmt.Errorf("%w: SharedDir %s: its path is too long for the region's files: %w", ErrInvalidOption, parent, err)
	}
	// A SharedDir removed after openShared checked it (before the build
	// directory was made, or between recovery and publication, which
	// removes the build directory with it) is gone, not one that cannot
	// hold a region: that ENOENT was reported as the latter
	// (TestSharedDirRemovedBeforePublish).
	if errors.Is(err, syscall.ENOENT) {
		if _, serr := os.Stat(parent); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("%w: SharedDir %s no longer exists (removed while the bus opened): %w", ErrInvalidOption, parent, err)
		}
	}
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: SharedDir %s cannot hold a shared region (its filesystem refused the region's files; use a tmpfs such as %s): %w",
			ErrInvalidOption, parent, DefaultSharedDir, err)
	}
	return fmt.Errorf("mmsb: shared mode: %w", err)
}

// removeBuildDirs removes the build directories of region final left by
// writers that died mid-recovery. Caller holds the bus LOCK, so no writer
// of this bus is building one now; one that a writer process holds
// (page.RegionHeld) is another bus's of the same region name (another
// PID and mount namespace), building now, and is left. Listed by name
// prefix, not with filepath.Glob: a SharedDir holding a glob
// metacharacter ("[") made the pattern invalid and left them all.
func removeBuildDirs(final string) {
	for _, p := range buildDirs(final) {
		if !page.RegionHeld(p) {
			_ = os.RemoveAll(p)
		}
	}
}

// buildDirs lists the build directories of region final (removeBuildDirs).
func buildDirs(final string) []string {
	parent, prefix := filepath.Dir(final), filepath.Base(final)+".building-"
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), prefix) {
			dirs = append(dirs, filepath.Join(parent, ent.Name()))
		}
	}
	return dirs
}

// reclaimSharedRegion is called by an Open without Options.Shared once
// recovery succeeded: it removes the region (and build directories) that
// an earlier shared writer of this bus left under SharedDir (the default
// when Options.SharedDir is ""), a writer that was killed or whose bus
// failed before its Close removed it. Before, only a shared Open removed
// it, so a bus reopened without Shared kept a dead region's page bytes in
// tmpfs memory until reboot (TestSharedRegionReclaimedByPrivateOpen).
//
// The caller holds the bus LOCK: no writer of this bus runs, in any
// process or PID namespace (flock works across them). But the region's
// name is only a hash of the bus's path, which another bus can share: one
// in another container that shares /dev/shm (and the default SharedDir)
// but not its mounts or PIDs, whose live writer's process this one cannot
// see. So a region is removed only when it is positively dead: it must be
// a directory owned by this user (never another user's, even as root)
// that no writer process holds (page.RegionHeld: a writer keeps a flock
// on its header, in any namespace; TestSharedRegionOfInvisibleWriterKept),
// and its header must say closed or superseded, or name a writer process
// that no longer exists (the readers' own check, ErrWriterGone or
// ErrStale: all there is for a region of a writer from before the flock).
// A region whose writer looks alive from here, or that cannot be read
// (damaged, another owner), is left as it was. Best effort: nothing here
// can fail the Open.
func (e *Bus) reclaimSharedRegion() {
	if e.memory || e.fs != vfs.Default {
		return
	}
	final, err := SharedRegionPath(e.dir, e.opts.SharedDir)
	if err != nil {
		return
	}
	// Nothing to reclaim (the common case): no lock, nothing made in
	// SharedDir.
	if _, err := os.Lstat(final); err != nil && len(buildDirs(final)) == 0 {
		return
	}
	// Under the region name's lock (publishRegion): a writer of another
	// bus of the same name does not publish between the checks below and
	// the removal.
	unlock, err := page.LockRegionName(final)
	if err != nil {
		return
	}
	defer unlock()
	removeBuildDirs(final)
	fi, err := os.Lstat(final)
	if err != nil || !fi.IsDir() {
		return
	}
	uid := os.Geteuid()
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != uid {
		return
	}
	if page.RegionHeld(final) {
		return // a live writer, of another bus under the same name
	}
	// No header: a writer killed while its Close removed the region. A
	// live writer whose header was removed holds the directory's flock
	// too (page.RegionHeld above), so this one is dead: before that lock,
	// such a region was left until the next shared Open
	// (TestSharedRegionWithoutHeaderReclaimed).
	if _, err := os.Lstat(filepath.Join(final, page.ShmHeaderFile)); errors.Is(err, os.ErrNotExist) {
		_ = os.RemoveAll(final)
		return
	}
	r, err := page.OpenShmReaderOwned(final, uid)
	if err == nil {
		err = r.Alive()
		_ = r.Discard() // our own short-lived mapping: nothing else reads it
	}
	if !errors.Is(err, page.ErrWriterGone) && !errors.Is(err, page.ErrStale) {
		return // alive (nil), damaged or unreadable: not ours to judge
	}
	// Marked first, as a shared Open does, so that a reader attached to
	// it (liveness checks off) is told to reopen: ErrStale.
	_ = page.MarkSuperseded(final)
	_ = os.RemoveAll(final)
}

// regionHeldErr refuses the region in dir when a writer process holds
// it (page.RegionHeldAlone: the flock every writer keeps on its header,
// which must have no other link: TestSharedLinkedHeaderAtRegionName). The
// caller holds the bus LOCK, so that writer is not one of this bus: it
// is another bus whose path gives the same region name, one in another
// container or mount namespace that shares SharedDir. Superseding its
// region failed all of that bus's readers (ErrStale) while its writer
// went on committing to a region nobody could open any more
// (TestSharedOpenRefusesRegionOfLiveWriter). A region no writer holds (a
// dead writer's, or one from before the flock) is superseded as before;
// so is one whose hold ends within RegionHeldAlone's retries (a probe's,
// or this bus's killed writer's, whose header lock the kernel may drop
// just after its LOCK).
func regionHeldErr(dir string) error {
	if !page.RegionHeldAlone(dir) {
		return nil
	}
	// Under page.ErrRegionLocked too, as sharedOpenErr's: callers tell a
	// held region from a held bus directory by it (cmd/mmsb's busInUse:
	// TestSharedRegionHeldIsRegionLocked).
	return fmt.Errorf("%w: %w: shared region %s is held by a live writer of another bus (another mount namespace or container whose bus path gives the same region name); give one of the buses another SharedDir", ErrLocked, page.ErrRegionLocked, dir)
}

// publishShared retires the previous writer's region (its readers get
// ErrStale) and publishes ours under the bus's region name.
func (e *Bus) publishShared() error {
	return publishRegion(e.sharedDir, func() error { return e.store.Publish(e.sharedDir, uint64(e.lastLSN)) })
}

// publishRegion replaces the region at final (a previous writer's) by
// calling publish, which renames a build directory there. It holds the
// region name's lock (page.LockRegionName) from the check of what is
// there until publish returned. Without it, a writer of another bus whose
// path gives the same region name (another container sharing SharedDir;
// this bus's LOCK does not cover it) could publish its live region
// between this writer's check and its removal, which then marked that
// live region superseded and removed it: that bus's readers failed with
// ErrStale while its writer went on committing to a region nobody could
// open (TestSharedPublishRacesOtherBus; before: "region of the other
// bus, published between this Open's check and its replacement, was
// removed"). Now that writer waits for the lock and then finds this one's
// region held: its Open fails with ErrLocked.
func publishRegion(final string, publish func() error) error {
	unlock, err := page.LockRegionName(final)
	if err != nil {
		// Mapped as openShared's lock of the same name is: an ENOSPC or
		// EACCES here reached the caller with no ErrNoSpace or
		// ErrInvalidOption until 2026-12-07 (TestSharedPublishLockErrMapped).
		return sharedOpenErr(err, filepath.Dir(final))
	}
	defer unlock()
	// Lstat: only a directory is a previous writer's region. Anyone may
	// create names in /dev/shm, and following a link planted here marked
	// its target, another bus's live region, superseded.
	if st, err := os.Lstat(final); err == nil {
		if st.IsDir() {
			// Checked again: that bus's writer may have published while
			// this one recovered.
			if err := regionHeldErr(final); err != nil {
				return err
			}
			if sharedReplaceHook != nil {
				sharedReplaceHook()
			}
			// Best effort: a region we cannot mark (corrupt header) is
			// removed anyway; its readers then see its writer gone.
			_ = page.MarkSuperseded(final)
		}
		if err := os.RemoveAll(final); err != nil {
			return fmt.Errorf("mmsb: shared mode: remove old region: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mmsb: shared mode: %w", err)
	}
	if err := publish(); err != nil {
		return fmt.Errorf("mmsb: shared mode: %w", err)
	}
	return nil
}

// sharedReplaceHook, set by tests, runs in publishRegion between the
// check of the region found at the name and its replacement.
var sharedReplaceHook func()

// closeRegionIfPartial marks the shared region closed, as Close does,
// when err, a failure the bus records (fail), may have left part of a
// batch in the pages (partlyApplied): readers in other processes read the
// region without the bus's lock, and would read on in the half-applied
// pages that the failed bus's own reads refuse (pagesErr). They get
// ErrWriterGone at their next call instead. The header has no state for a
// failed writer (readers of this format refuse a state past superseded
// as damage), so closed it is. A failure that leaves whole batches (a log
// write or fsync, a Replicator) leaves the region live: its readers read
// on, as the bus's own reads do. Until 2026-12-07 only a panic that left a
// page mid-write closed the region (TestSharedPartialFailureTellsReaders,
// TestSharedLogFailureReadersReadOn). Caller holds e.mu exclusively.
func (e *Bus) closeRegionIfPartial(err error) {
	var partial *pagesPartial
	if e.shared && errors.As(err, &partial) {
		e.store.MarkClosed()
	}
}

// applyToPageShared is applyToPage under the page's seqlock: the sequence
// word is odd while the bytes, epoch and LSN change, so a reader that
// copied the page meanwhile sees the word moved and retries.
func (e *Bus) applyToPageShared(sl page.Slot, d *delta.Delta, lsn LSN, t int64) {
	e.store.BeginWrite(sl, uint64(lsn))
	if e.sharedApplyHook != nil {
		e.sharedApplyHook()
	}
	// As in applyToPage, d was validated against this page's size or is a
	// Diff of its bytes: Apply cannot refuse it; invariants builds check that.
	if err := delta.Apply(d, e.store.Bytes(sl)); invariants.Enabled && err != nil {
		panic(fmt.Sprintf("invariants: validated delta does not apply: %v", err))
	}
	ep := e.store.Epoch(sl) + 1
	e.store.SetEpoch(sl, ep)
	e.store.SetLastLSN(sl, lsn)
	e.store.EndWrite(sl, uint64(lsn))
	d.LSN, d.Epoch, d.Time = lsn, ep, t
}

// SharedPath returns the directory of the bus's shared region ("" unless
// Options.Shared). After Close it still names it (the directory is gone).
func (e *Bus) SharedPath() string { return e.sharedDir }

// SharedReadersEvery is how often SharedReaders scans the processes; calls
// in between return the last count.
const SharedReadersEvery = time.Second

// sharedReaderCount caches SharedReaders' scan.
type sharedReaderCount struct {
	mu   sync.Mutex
	at   time.Time
	n    int
	err  error
	path string // the header file readers map
}

// SharedReaders returns how many other processes have the bus's shared
// region mapped: reader processes (Go, Python or C readers, mmsb read and
// watch). Readers write nothing shared, so they are counted from the
// writer's side, best effort: it scans /proc/PID/maps of every process
// (Linux only; elsewhere errors.ErrUnsupported) for the region's header
// file, at most once per SharedReadersEvery (calls in between return the
// last count), and it misses readers this user may not inspect (another
// user's, with Options.SharedGroup) and readers in the writer's own
// process. A reader that exited is no longer counted; one stopped
// (SIGSTOP) still is. It is 0 without Options.Shared, and ErrClosed
// after Close.
func (e *Bus) SharedReaders() (int, error) {
	e.rlockSettled()
	closed := e.closed
	e.mu.RUnlock()
	if closed {
		return 0, ErrClosed
	}
	if !e.shared {
		return 0, nil
	}
	c := &e.readers
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); c.at.IsZero() || now.Sub(c.at) >= SharedReadersEvery {
		if c.path == "" {
			c.path = filepath.Join(e.sharedDir, page.ShmHeaderFile)
		}
		c.n, c.err = page.ProcessesMapping(c.path, os.Getpid())
		c.at = now
		if c.err != nil {
			c.err = fmt.Errorf("mmsb: shared readers: %w", c.err)
		}
	}
	return c.n, c.err
}
