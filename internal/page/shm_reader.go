package page

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reader-side errors (re-exported by the root package).
var (
	// ErrWriterGone: the writer closed the bus, died, or left a page
	// mid-write (odd sequence word) for longer than the reader's bound.
	ErrWriterGone = errors.New("mmsb: shared-memory writer gone")
	// ErrStale: a newer writer rebuilt the shared region (new generation);
	// the reader must be reopened.
	ErrStale = errors.New("mmsb: shared region superseded by a newer writer (reopen the reader)")
)

// ShmReader maps a shared region read-only. It writes nothing shared: a
// reader that crashes or stops leaves nothing to clean up. Not safe for
// concurrent use (the root package's Reader serialises it), except
// TryRead, State, LSN and WaitLSN, which may run beside any other method,
// Close included: they read only the header and the immutable fastView
// that the other methods publish, and no mapping is ever unmapped while
// the ShmReader is open (remapped ones are kept, see retired), nor at
// Close (see Close).
type ShmReader struct {
	dir string
	// dirFD is the region directory the reader opened: every file is
	// mapped relative to it (mapAt), never by path, so that a region
	// renamed into dir's place by a new writer (whose chunk files have the
	// same names: generations restart at 1) is never mixed into this one.
	// The old region's files are removed with it: a file not mapped yet is
	// then unavailable, as for a closed writer.
	dirFD    int
	owner    int  // the uid that owns the region and every file mapped (checkOwner)
	tmpfs    bool // the region is on a tmpfs: checkSlotsBacked applies
	hdr      []byte
	chunkTab []byte
	gen      uint64
	pid      int
	start    uint64

	ids, vers, cells, seq []byte // slot-array mappings (PROT_READ)
	slots                 int    // slots covered by every slot mapping
	// idsBacked is how many bytes of the ids file checkSlotsBacked last
	// found allocated: a high-water mark within them needs no new stat.
	idsBacked int64

	chunks []readerChunk

	// The reader's own ID index, rebuilt from the ids array when tableVer
	// moves: dense[id] = slot+1 for small IDs (the usual, auto-assigned
	// ones), sparse for the rest.
	dense    []int32
	sparse   map[uint64]int32
	live     int
	indexVer uint64
	indexOK  bool

	// fast is what TryRead reads, republished whole after every change to
	// the mappings or the index (never modified in place).
	fast atomic.Pointer[fastView]
	// retired are mappings replaced by a remap: kept mapped until Close,
	// since a TryRead may still be reading them.
	retired [][]byte
	closed  bool
	// gone is the writer's failure once the caller's liveness check found
	// it (SetGone): TryRead then declines, so reads take the caller's
	// slow path, which reports it.
	gone atomic.Pointer[error]
}

// fastView is an immutable copy of what a lock-free read needs.
type fastView struct {
	ids, vers, cells, seq []byte
	slots                 int
	chunks                []readerChunk
	dense                 []int32
	// linear: slot sl's cell is predicted to be ref0+sl (see cellLayout).
	ref0   uint32
	linear bool
}

// publish republishes the fast view from the current fields.
func (r *ShmReader) publish() {
	v := &fastView{ids: r.ids, vers: r.vers, cells: r.cells, seq: r.seq, slots: r.slots,
		chunks: slices.Clone(r.chunks), dense: r.dense}
	v.ref0, v.linear = r.cellLayout()
	r.fast.Store(v)
	// SetGone may run meanwhile (the caller's liveness check): withdraw the
	// view again if it did. Go's atomics are sequentially consistent, so
	// if this load misses SetGone's flag, SetGone's own withdrawal comes
	// after the store above: either way no view stays published.
	if r.gone.Load() != nil {
		r.fast.Store(nil)
	}
}

// cellLayout reports whether the slots in use hold consecutive cells
// (slot sl at cell reference ref0+sl), as pages of up to 1 KiB created in
// ID order and not freed do: TryRead then predicts a page's cell from its
// slot. Sampled at five slots, not proved: a read uses the prediction only
// after checking it against the slot's cell word, so a wrong one costs
// time, never correctness; sampling keeps it off for layouts where it
// would fail often enough to cost branch mispredictions.
func (r *ShmReader) cellLayout() (ref0 uint32, linear bool) {
	n := min(int(min(atomic.LoadUint64(shmWord(r.hdr, hHW)), maxSlots)), r.slots)
	if n == 0 {
		return 0, false
	}
	ref0 = uint32(atomic.LoadUint64(word(r.cells, 0)))
	for _, sl := range [...]int{n / 4, n / 2, 3 * n / 4, n - 1} {
		if uint32(atomic.LoadUint64(word(r.cells, sl*8))) != ref0+uint32(sl) {
			return 0, false
		}
	}
	return ref0, true
}

// retire keeps m mapped until Close (see ShmReader).
func (r *ShmReader) retire(m []byte) {
	if m != nil {
		r.retired = append(r.retired, m)
	}
}

type readerChunk struct {
	gen      uint32
	cellSize int
	mem      []byte
	// res is the address range reserved for the chunk's index, mem its
	// start: a smaller file mapped over a replaced chunk's range keeps
	// the whole range (the rest zero pages), so that a larger one can be
	// mapped there again (see chunk).
	res []byte
}

// reserved returns the range reserved for chunk c: res, or mem when the
// chunk was mapped into a range of its own length.
func (c *readerChunk) reserved() []byte {
	if c.res != nil {
		return c.res
	}
	return c.mem
}

// mapRO maps a whole file read-only, by path: mapAt relative to the
// working directory.
func mapRO(path string, owner, minLen int, over []byte) ([]byte, error) {
	return mapAt(unix.AT_FDCWD, "", path, owner, minLen, over)
}

// mapAt maps the whole file name of directory dirFD (dir names it in
// errors) read-only; a missing file fails (os.ErrNotExist), an empty one
// maps to nil, and one that fails checkOwner for owner is refused (owner
// < 0 skips that check: tests of the mapping alone). With over, a mapping
// being replaced, it reuses that range when the file fits in it: the file
// is mapped over its start (MAP_FIXED) and the tail beyond it becomes zero
// pages; otherwise, or when over is nil, it maps into a spare range or
// anywhere, and leaves over alone.
func mapAt(dirFD int, dir, name string, owner, minLen int, over []byte) ([]byte, error) {
	path := name
	if dir != "" {
		path = filepath.Join(dir, name)
	}
	// O_NONBLOCK: opening a FIFO planted in the region's place would
	// otherwise block until some process opened its other end (a reader
	// hung in OpenReader, or in a read under its mutex). It changes nothing
	// for a regular file, and anything else is refused below.
	// O_NOFOLLOW: a symbolic link is refused (ELOOP), not followed to a
	// regular file that fstat would then accept, another bus's header,
	// say (TestReaderRefusesLinkedRegionFile).
	fd, err := unix.Openat(dirFD, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symbolic link, not a regular file", ErrBadShared, path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer func() { _ = f.Close() }() // read-only use or mapped already: nothing to flush
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%v)", ErrBadShared, path, st.Mode().Type())
	}
	if owner >= 0 {
		// Checked on the open descriptor: whatever the path names by
		// now, this is the file that gets mapped.
		if err := checkOwner(path, st, owner); err != nil {
			return nil, err
		}
	}
	n := st.Size()
	if n < int64(minLen) {
		return nil, fmt.Errorf("%w: %s is %d bytes, need at least %d", ErrBadShared, path, n, minLen)
	}
	if n == 0 {
		return nil, nil
	}
	if n > 1<<40 {
		return nil, fmt.Errorf("%w: %s is %d bytes", ErrBadShared, path, n)
	}
	// A new mapping takes a range a closed reader left, when one long
	// enough is spare, rather than new address space (shm_ranges.go); so
	// does one whose old range it does not fit in (the caller releases
	// that one).
	spare := false
	if int64(len(over)) < n && int64(int(n)) == n { // n fits an int (32-bit)
		if r := takeRange(int(n)); r != nil {
			over, spare = r, true
		}
	}
	if int64(len(over)) < n {
		b, err := unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return nil, fmt.Errorf("mmap %s: %w", path, err)
		}
		return b, nil
	}
	p, err := unix.MmapPtr(int(f.Fd()), 0, unsafe.Pointer(unsafe.SliceData(over)), uintptr(n), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		// A failed MAP_FIXED may have unmapped part of the range: make it
		// readable again before anyone can read it (a spare range goes
		// back to the pool that way).
		if spare {
			_ = releaseRange(over)
		} else {
			_ = zeroMapping(over)
		}
		return nil, fmt.Errorf("mmap %s over its old range: %w", path, err)
	}
	if tail := roundUp(int(n), osPageSize); tail < len(over) {
		if err := zeroMapping(over[tail:]); err != nil {
			return nil, err
		}
	}
	return unsafe.Slice((*byte)(p), int(n)), nil
}

// checkOwner refuses a region directory or file that uid owner does not
// own or that its group or others may write. Region names are predictable
// and /dev/shm is writable by everyone, so anyone can create a region for
// someone else's bus, with a header naming a live process of theirs; the
// writer creates the region 0700/0600 (0750/0640 with SharedGroup), as
// the user it runs as (docs/shm.md#security-what-a-reader-trusts).
func checkOwner(path string, fi os.FileInfo, owner int) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: no owner to check", ErrBadShared, path)
	}
	if int(st.Uid) != owner {
		return fmt.Errorf("%w: %s is owned by uid %d, expected uid %d", ErrBadShared, path, st.Uid, owner)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s (owner uid %d, expected uid %d) is writable by group or others (mode %v)",
			ErrBadShared, path, st.Uid, owner, fi.Mode().Perm())
	}
	return nil
}

// OpenShmReader maps the region in dir, trusting whoever owns it: see
// OpenShmReaderOwned.
func OpenShmReader(dir string) (*ShmReader, error) { return OpenShmReaderOwned(dir, -1) }

// OpenShmReaderOwned maps the region in dir. The directory, which must not
// be a symbolic link, and every file mapped from it must be owned by uid
// owner (the directory's own owner when owner < 0) and writable by nobody
// else (checkOwner), else ErrBadShared. A missing directory is
// os.ErrNotExist.
func OpenShmReaderOwned(dir string, owner int) (*ShmReader, error) {
	// Lstat: a link planted under the region's name could name another
	// bus's region, owned by the right user.
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if owner < 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = int(st.Uid)
		}
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory (%v)", ErrBadShared, dir, fi.Mode().Type())
	}
	if err := checkOwner(dir, fi, owner); err != nil {
		return nil, err
	}
	fd, err := openRegionDir(dir, fi)
	if err != nil {
		return nil, err
	}
	r := &ShmReader{dir: dir, dirFD: fd, owner: owner, tmpfs: onTmpfs(fd)}
	if err := r.init(); err != nil {
		// Nothing was handed out: Discard, not Close.
		_ = r.Discard()
		return nil, err
	}
	return r, nil
}

// init maps the region's header, chunk table and slot arrays, and
// publishes the fast view. A file that shrinks while it runs (after mapAt
// checked its size) is ErrBadShared (recoverFault).
func (r *ShmReader) init() (err error) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, "open", 0, nil, &err)
	if r.hdr, err = mapAt(r.dirFD, r.dir, ShmHeaderFile, r.owner, 0, nil); err != nil {
		return err
	}
	h, err := DecodeShmHeader(r.hdr)
	if err != nil {
		return err
	}
	r.gen, r.pid, r.start = h.Gen, int(h.PID), h.Start
	if r.chunkTab, err = mapAt(r.dirFD, r.dir, shmChunkTab, r.owner, maxChunks*chunkEntryBytes, nil); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if gerr := r.going(); gerr != nil {
				return gerr
			}
		}
		return err
	}
	if err := r.remapSlots(0); err != nil {
		return err
	}
	r.publish()
	return nil
}

// Mapped files that shrink. The writer never shrinks a file it shared
// (slot arrays only grow, chunk files are replaced, never cut), but the
// region's owner (or root) can truncate one under a reader: the reader's
// next access to the lost part raises SIGBUS, which would kill the
// reading process. Every method that reads mapped memory therefore runs
// with debug.SetPanicOnFault(true), which turns such a fault into a panic
// of the reading goroutine, and defers recoverFault, which turns a panic
// at an address inside one of the reader's mappings into ErrBadShared and
// re-panics anything else. Once per call, not per access, and no
// allocation (tested); it still costs a random 1 KiB ReadPage ~100 ns and
// View 10-20 ns on the 2-core VM, by reducing how much the fast path's
// cache misses overlap (docs/benchmarks.md, "The fault guard").
//
// What it cannot cover: memory the caller still touches after the call
// returned (a View callback that kept its slice against View's rules),
// and a caller's own faults inside fn, which it re-panics.

// faultAddr is the panic value of a fault under debug.SetPanicOnFault (a
// runtime.Error that also reports the faulting address).
type faultAddr interface {
	error
	Addr() uintptr
}

// recoverFault is deferred by every read path: it restores the
// goroutine's panic-on-fault setting to old (what SetPanicOnFault(true)
// returned) and, if the call panicked with a fault inside one of the
// reader's mappings (v's, or the reader's own when v is nil; see
// mappingAt), sets *err to ErrBadShared naming op, page id (0: none) and
// the file, and *done (if not nil) to true; for TryRead (v not nil) only
// while v is still the published view, else it leaves both (the attempt
// is declined). Any other panic goes on.
func (r *ShmReader) recoverFault(old bool, v *fastView, op string, id uint64, done *bool, err *error) {
	debug.SetPanicOnFault(old)
	p := recover()
	if p == nil {
		return
	}
	f, ok := p.(faultAddr)
	if !ok {
		panic(p)
	}
	name, off, ok := r.mappingAt(f.Addr(), v)
	if !ok {
		panic(p)
	}
	if v != nil && r.fast.Load() != v {
		// TryRead's view was withdrawn or replaced while it read (Close, a
		// reattach, a chunk replaced): the faulting range may already be
		// mapped by another reader, over a file of another region whose
		// owner truncated it (shm_ranges.go), which is no damage of this
		// region. Declined, as any attempt that overlapped such a change:
		// the caller's locked path reads afresh and reports a real one.
		return
	}
	if id != 0 {
		op += " " + strconv.FormatUint(id, 10)
	}
	*err = fmt.Errorf("%w: %s: %s: fault at offset %d of its mapping of %s (the file shrank under the reader)",
		ErrBadShared, r.dir, op, off, name)
	if done != nil {
		*done = true
	}
}

// mappingAt names the file of the reader's mapping that holds addr, and
// addr's offset in it. With v (TryRead, which may run beside the methods
// that replace mappings) it looks only at v's mappings and the header and
// chunk table (fixed once open); otherwise at the reader's current and
// retired ones.
func (r *ShmReader) mappingAt(addr uintptr, v *fastView) (string, uintptr, bool) {
	in := func(m []byte) (uintptr, bool) {
		if len(m) == 0 {
			return 0, false
		}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(m)))
		return addr - base, addr >= base && addr-base < uintptr(len(m))
	}
	ids, vers, cells, seq, chunks := r.ids, r.vers, r.cells, r.seq, r.chunks
	if v != nil {
		ids, vers, cells, seq, chunks = v.ids, v.vers, v.cells, v.seq, v.chunks
	}
	for _, m := range []struct {
		name string
		mem  []byte
	}{{ShmHeaderFile, r.hdr}, {shmChunkTab, r.chunkTab}, {shmIDs, ids}, {shmVers, vers}, {shmCells, cells}, {shmSeq, seq}} {
		if off, ok := in(m.mem); ok {
			return m.name, off, true
		}
	}
	for i, c := range chunks {
		if off, ok := in(c.mem); ok {
			return ChunkFileName(uint32(i), c.gen), off, true
		}
	}
	if v == nil {
		for _, m := range r.retired {
			if off, ok := in(m); ok {
				return "a slot array (replaced mapping)", off, true
			}
		}
	}
	return "", 0, false
}

// loadHdr loads the header word at off, guarded (see recoverFault).
func (r *ShmReader) loadHdr(off int, what string) (w uint64, err error) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, what, 0, nil, &err)
	return atomic.LoadUint64(shmWord(r.hdr, off)), nil
}

// StateUnreadable is what State returns when the header's state word
// cannot be read (the header file shrank under the reader): no region is
// in that state, so callers that wait for ShmLive stop, and Alive reports
// ErrBadShared.
const StateUnreadable = ^uint64(0)

// openRegionDir opens the region directory dir, which Lstat found as fi,
// for mapAt: the directory opened must be that one (not a link, nor
// another directory renamed into its place since).
func openRegionDir(dir string, fi os.FileInfo) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, &os.PathError{Op: "open", Path: dir, Err: err}
		}
		return -1, fmt.Errorf("%w: open region directory %s: %w", ErrBadShared, dir, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if want, ok := fi.Sys().(*syscall.Stat_t); err == nil && (!ok || uint64(st.Dev) != uint64(want.Dev) || uint64(st.Ino) != uint64(want.Ino)) {
		err = errors.New("replaced while it was being opened")
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("%w: region directory %s: %w", ErrBadShared, dir, err)
	}
	return fd, nil
}

// Close releases every mapping. It does not unmap them: a TryRead running
// beside Close may still be reading one, and an access to an unmapped
// address is a fatal fault in Go. Each mapping is instead replaced in
// place by zero pages (an anonymous read-only mapping at the same
// address), which drops the shared files (their memory returns to the
// system once the writer removed them) and keeps the addresses readable:
// a racing TryRead reads zeros, which fail its ID or sequence check or
// its final check that the fast view is still published. The ranges stay
// reserved (address space, never memory) until a later ShmReader of the
// process maps a file of the same length over one (shm_ranges.go): they
// were reserved for the life of the process, ~17 MiB per Close.
func (r *ShmReader) Close() error { return r.release() }

// Discard is Close for a ShmReader that no other goroutine can be reading
// (its open failed, or the caller drops it before handing it out). It
// used to unmap instead, so that a caller that keeps trying to attach
// (ReaderOptions.Reattach while a dead writer's region is still in place,
// or a loop around OpenReader) did not reserve another 16 MiB per failed
// attempt; the pool of spare ranges that Close now feeds does that for
// both. It no longer unmaps: a range taken from the pool is mapped with
// unix.MmapPtr, which unix.Munmap refuses, and would stay mapped to its
// file.
func (r *ShmReader) Discard() error { return r.release() }

// release hands the reader's mappings to the pool of spare ranges
// (releaseRange: zero pages until a later reader maps over them).
func (r *ShmReader) release() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.fast.Store(nil)
	var first error
	if r.dirFD >= 0 {
		first = unix.Close(r.dirFD)
		r.dirFD = -1
	}
	for _, m := range append([][]byte{r.hdr, r.chunkTab, r.ids, r.vers, r.cells, r.seq}, r.retired...) {
		if err := releaseRange(m); err != nil && first == nil {
			first = err
		}
	}
	for i := range r.chunks {
		if err := releaseRange(r.chunks[i].reserved()); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// SetGone records that the writer is gone (err says how) and withdraws the
// fast view, so TryRead declines from then on (publish never leaves one
// published after SetGone). Safe beside TryRead and publish. Measured:
// withdrawing the view instead of TryRead loading the flag on every read
// made random ReadPage 10-18 ns faster (docs/benchmarks.md).
func (r *ShmReader) SetGone(err error) {
	r.gone.Store(&err)
	r.fast.Store(nil)
}

// Gone returns the error SetGone recorded, or nil.
func (r *ShmReader) Gone() error {
	if p := r.gone.Load(); p != nil {
		return *p
	}
	return nil
}

// Gen returns the region's generation.
func (r *ShmReader) Gen() uint64 { return r.gen }

// PID returns the writer's process ID.
func (r *ShmReader) PID() int { return r.pid }

// Start returns the writer process's start time (clock ticks since boot),
// which tells a writer from a later process given the same ID.
func (r *ShmReader) Start() uint64 { return r.start }

// LSN returns the committed LSN the writer published last (0 if the
// header cannot be read: State then says StateUnreadable).
func (r *ShmReader) LSN() uint64 {
	l, _ := r.loadHdr(hLSN, "load the committed LSN")
	return l
}

// WaitLSN sleeps until the committed LSN may have passed after (futex on
// the header's LSN word), at most d. Callers re-check: wake-ups may be
// early or spurious. It returns at once if the header cannot be read.
func (r *ShmReader) WaitLSN(after uint64, d time.Duration) {
	// Closed (or the writer gone): nothing to wait for. A closed reader's
	// header range may already map another reader's header (shm_ranges.go),
	// whose live state and LSN would have it sleep the whole d.
	if r.fast.Load() == nil {
		return
	}
	var err error
	f, v := r.futexWord(&err)
	if err != nil || r.LSN() > after || r.State() != ShmLive {
		return
	}
	futexWaitFor(f, v, d)
}

// futexWord returns the header's futex word and its value, guarded.
func (r *ShmReader) futexWord(err *error) (f *uint32, v uint32) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, "load the futex word", 0, nil, err)
	f = (*uint32)(unsafe.Pointer(&r.hdr[hFutex]))
	return f, atomic.LoadUint32(f)
}

// State returns the header's state word, or StateUnreadable.
func (r *ShmReader) State() uint64 {
	st, err := r.loadHdr(hState, "load the state word")
	if err != nil {
		return StateUnreadable
	}
	return st
}

// state is State inside a guarded method.
func (r *ShmReader) state() uint64 { return atomic.LoadUint64(shmWord(r.hdr, hState)) }

// Header decodes the current header.
func (r *ShmReader) Header() (h ShmHeader, err error) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, "decode the header", 0, nil, &err)
	return DecodeShmHeader(r.hdr)
}

// Alive checks the writer: nil while it runs, ErrWriterGone or ErrStale
// otherwise, ErrBadShared if the header cannot be read. It costs a
// kill(pid, 0) and a read of /proc/PID/stat.
func (r *ShmReader) Alive() error {
	st, err := r.loadHdr(hState, "load the state word")
	if err != nil {
		return err
	}
	switch st {
	case ShmLive:
	case ShmSuperseded:
		return fmt.Errorf("%w: generation %d", ErrStale, r.gen)
	case ShmClosed:
		return fmt.Errorf("%w: writer %d closed the bus", ErrWriterGone, r.pid)
	default:
		return fmt.Errorf("%w: region in state %d", ErrWriterGone, st)
	}
	if r.pid <= 0 {
		return fmt.Errorf("%w: no writer pid", ErrWriterGone)
	}
	if err := unix.Kill(r.pid, 0); errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("%w: writer process %d no longer exists", ErrWriterGone, r.pid)
	}
	// A recycled PID belongs to a process with another start time; a
	// killed writer that its parent has not reaped yet is a zombie (it
	// still answers kill(pid, 0)).
	state, st, err := procStat(r.pid)
	if err != nil || st != r.start {
		return fmt.Errorf("%w: writer process %d no longer exists (start time %d, want %d)", ErrWriterGone, r.pid, st, r.start)
	}
	if state == 'Z' || state == 'X' {
		return fmt.Errorf("%w: writer process %d exited (state %c)", ErrWriterGone, r.pid, state)
	}
	return nil
}

// remapSlots maps the slot-array files afresh (after the writer grew them).
// Growth never waits for readers: the writer extends files that readers
// map at whatever length they saw; this picks up the new length.
//
// The writer publishes the slot capacity after every file grew, so files
// that hold fewer slots than the capacity loaded before mapping them
// (capacity, or the header's now) are damaged: ErrBadShared, with the old
// mappings kept and the new ones unmapped (keeping them would leak four
// mappings per refused call).
func (r *ShmReader) remapSlots(capacity uint64) error {
	capacity = max(capacity, atomic.LoadUint64(shmWord(r.hdr, hSlotCap)))
	var maps [4][]byte
	drop := func() {
		for _, m := range maps {
			_ = releaseRange(m) // possibly a spare range: not unix.Munmap's
		}
	}
	for i, name := range []string{shmIDs, shmVers, shmCells, shmSeq} {
		b, err := mapAt(r.dirFD, r.dir, name, r.owner, 0, nil)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			drop()
			return err
		}
		maps[i] = b
	}
	slots := min(len(maps[0])/8, len(maps[1])/16, len(maps[2])/8, len(maps[3])/8)
	if uint64(slots) < min(capacity, maxSlots) {
		drop()
		if err := r.going(); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s: slot arrays (ids %d, vers %d, cells %d, seq %d bytes) hold %d slots, the header publishes %d",
			ErrBadShared, r.dir, len(maps[0]), len(maps[1]), len(maps[2]), len(maps[3]), slots, capacity)
	}
	for _, m := range [][]byte{r.ids, r.vers, r.cells, r.seq} {
		r.retire(m)
	}
	r.ids, r.vers, r.cells, r.seq = maps[0], maps[1], maps[2], maps[3]
	r.slots = slots
	// What the writer had reserved when the files were mapped: the index
	// rebuilds within it need no stat, so a region that its writer then
	// removes (Close, or a new writer's takeover) is found going by the
	// read, as before, not by a stat of a file gone (checkSlotsBacked).
	if r.tmpfs {
		if n, err := allocatedAt(r.dirFD, shmIDs); err == nil {
			r.idsBacked = max(r.idsBacked, n)
		}
	}
	r.publish()
	return nil
}

// going is asked before a missing or short region file is reported: a
// writer marks its region closed (Close) or superseded (a newer writer
// took over) and then removes its files, so a reader that opens or remaps
// in between finds them missing. Such a region is going away, not
// damaged: ErrWriterGone or ErrStale (Alive's answer for those states),
// which callers that reopen on them retry; ErrBadShared made them give
// up. nil while the header says live.
func (r *ShmReader) going() error {
	if r.state() == ShmLive {
		return nil
	}
	return r.Alive()
}

// ensureSlot makes slot sl mapped, remapping when the writer grew the
// arrays. ok is false when sl is beyond the published capacity.
func (r *ShmReader) ensureSlot(sl int) (bool, error) {
	if sl < r.slots {
		return true, nil
	}
	capacity := atomic.LoadUint64(shmWord(r.hdr, hSlotCap))
	if uint64(sl) >= capacity {
		return false, nil
	}
	if err := r.remapSlots(capacity); err != nil {
		return false, err
	}
	return sl < r.slots, nil
}

func (r *ShmReader) seqWord(sl int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.seq[sl*8])))
}

// chunk returns chunk idx's mapping and cell size, mapping its current
// file if needed. ok is false when the chunk is unpublished or its file is
// gone (the caller's sequence check decides whether that is a race).
func (r *ShmReader) chunk(idx uint32) ([]byte, int, bool) {
	if uint64(idx) >= maxChunks {
		return nil, 0, false
	}
	e := r.chunkTab[int(idx)*chunkEntryBytes:]
	gen := atomic.LoadUint32((*uint32)(unsafe.Pointer(&e[0])))
	if gen == 0 {
		return nil, 0, false
	}
	if int(idx) < len(r.chunks) && r.chunks[idx].gen == gen {
		c := &r.chunks[idx]
		return c.mem, c.cellSize, true
	}
	cs := int(atomic.LoadUint32((*uint32)(unsafe.Pointer(&e[4]))))
	for int(idx) >= len(r.chunks) {
		r.chunks = append(r.chunks, readerChunk{})
	}
	// A replaced chunk (its page was freed, and the index reused) is not
	// unmapped, since a lock-free TryRead may still be reading it (the
	// slot's sequence word, bumped by the free, makes that read fail). The
	// new file is mapped over the old range when it fits, so that the
	// reader's address space stays bounded however often chunks are
	// replaced; the old file is released either way. The whole old range
	// stays the index's when the new file fits in it: a smaller file
	// used to leave the rest behind, zero pages nobody would map again,
	// and the next larger file took new address space, so that pages of
	// two sizes freed and created in turn on one index reserved more at
	// every turn (TestReaderChunkReplacementKeepsAddressSpace).
	old := r.chunks[idx].reserved()
	mem, err := mapAt(r.dirFD, r.dir, ChunkFileName(idx, gen), r.owner, 0, old)
	if err != nil {
		return nil, 0, false
	}
	adviseHuge(mem)
	var res []byte
	if len(old) > 0 && unsafe.SliceData(mem) == unsafe.SliceData(old) {
		res = old
	}
	r.chunks[idx] = readerChunk{gen: gen, cellSize: cs, mem: mem, res: res}
	r.publish()
	// The old range (when the file did not fit) goes to the pool only once
	// no published view holds it: another reader may take it at once, and
	// a TryRead still in the old view must find its view replaced
	// (recoverFault, TryRead's last check), never still current.
	if len(old) > 0 && unsafe.SliceData(mem) != unsafe.SliceData(old) {
		_ = releaseRange(old) // did not fit: keep the range readable, drop the file
	}
	return mem, cs, true
}

// Outcome of one read attempt.
const (
	readOK      = iota
	readRetry   // the sequence word was odd or moved: try again
	readMissing // the slot does not hold the page (consistently)
)

// SlotRead is what one consistent slot read saw.
type SlotRead struct {
	Epoch, LSN uint64
	// Seq is the sequence word the attempt started from: a caller whose
	// attempts keep failing tells a stuck writer (Seq odd and unchanged)
	// from a busy one (Seq moving). Seq even and unchanged means the
	// page's chunk stayed unavailable (see readOnce): a free in progress
	// moves it soon, a corrupt chunk table never.
	Seq uint64
}

// readOnce makes one seqlock attempt at slot sl for page id, calling fn on
// the page bytes between the two sequence loads. fn must only read b (and
// copy it); its result is discarded unless the attempt is consistent.
//
// The payload loads in fn are plain loads of memory another process
// writes concurrently: a data race outside the Go memory model, made safe
// by discarding any copy whose sequence word moved (seqlock). It is tested
// across processes, not with -race (the detector cannot see the writer).
func (r *ShmReader) readOnce(sl int, id uint64, fn func(b []byte) error) (SlotRead, int, error) {
	var out SlotRead
	s1 := r.seqWord(sl)
	out.Seq = s1
	if s1&1 != 0 {
		return out, readRetry, nil
	}
	if atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.ids[sl*8]))) != id {
		if r.seqWord(sl) != s1 {
			return out, readRetry, nil
		}
		return out, readMissing, nil
	}
	cw := atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.cells[sl*8])))
	ref, sw := uint32(cw), uint32(cw>>32)
	size := int(sw & sizeMask)
	out.Epoch = atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.vers[sl*16])))
	out.LSN = atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.vers[sl*16+8])))
	mem, cs, ok := r.chunk(ref >> cellBits)
	// In uint64: a damaged chunk table's cell size times a cell index
	// overflows a 32-bit int (a negative offset, and a panic slicing).
	off := uint64(ref&cellMask) * uint64(cs)
	// A page never exceeds its cell: a larger size (a damaged cells
	// array) would read the next cell's bytes as this page's.
	if size == 0 || !ok || size > cs || off+uint64(size) > uint64(len(mem)) {
		if r.seqWord(sl) != s1 {
			return out, readRetry, nil
		}
		if size == 0 {
			return out, readMissing, nil
		}
		if !ok {
			// The slot still names the page, but its chunk is unpublished
			// or its file is gone: the writer releases a large page's
			// chunk before Free moves the slot's sequence word, and Close
			// releases every chunk without moving any. Retry: the word
			// moves once the free goes on, and the caller sees a closed
			// writer in the header. A word that stays even and unchanged
			// through such retries (a corrupt chunk table) is for the
			// caller to bound, as an odd one.
			return out, readRetry, nil
		}
		if size > cs {
			return out, readOK, fmt.Errorf("%w: slot %d (page %d): %d bytes in cell %#x of %d bytes", ErrBadShared, sl, id, size, ref, cs)
		}
		return out, readOK, fmt.Errorf("%w: slot %d (page %d): cell %#x, %d bytes outside its chunk of %d bytes", ErrBadShared, sl, id, ref, size, len(mem))
	}
	end := off + uint64(size)
	ferr := fn(mem[off:end:end])
	readFence()
	if r.seqWord(sl) != s1 {
		return out, readRetry, nil
	}
	return out, readOK, ferr
}

// find returns id's slot in the current index.
func (r *ShmReader) find(id uint64) (int32, bool) {
	if id < uint64(len(r.dense)) {
		v := r.dense[id]
		return v - 1, v != 0
	}
	sl, ok := r.sparse[id]
	return sl, ok
}

// lookup returns page id's slot from the reader's index, rebuilding the
// index when the writer created or freed pages since it was built.
func (r *ShmReader) lookup(id uint64) (int, bool, error) {
	if !r.indexOK {
		if err := r.rebuild(); err != nil {
			return 0, false, err
		}
	} else if v := atomic.LoadUint64(shmWord(r.hdr, hTableVer)); v != r.indexVer {
		if sl, ok := r.find(id); ok {
			return int(sl), true, nil // verified by the read itself
		}
		if err := r.rebuild(); err != nil {
			return 0, false, err
		}
	}
	sl, ok := r.find(id)
	return int(sl), ok, nil
}

// denseSlack bounds the dense index: IDs below 4*slots+denseSlack are
// indexed by array (4 bytes each), larger ones by map.
const readerDenseSlack = 1 << 16

// rebuild scans the published slots for live pages. O(slots); it runs
// only after creates or frees (tableVer moved) or when a slot no longer
// holds the page looked up.
func (r *ShmReader) rebuild() error {
	ver := atomic.LoadUint64(shmWord(r.hdr, hTableVer))
	hw := int(min(atomic.LoadUint64(shmWord(r.hdr, hHW)), maxSlots))
	if hw > r.slots {
		if _, err := r.ensureSlot(hw - 1); err != nil {
			return err
		}
		hw = min(hw, r.slots)
	}
	if err := r.checkSlotsBacked(hw); err != nil {
		return err
	}
	limit := uint64(4*hw + readerDenseSlack)
	maxID := uint64(0)
	for sl := range hw {
		if id := atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.ids[sl*8]))); id < limit && id > maxID {
			maxID = id
		}
	}
	// A new slice each time: the published fast view may hold the old one.
	r.dense = make([]int32, int(maxID)+1)
	clear(r.sparse)
	r.live = 0
	for sl := range hw {
		// No sequence check: a slot is odd whenever its page is being
		// written, and skipping it would hide a live page. ids and sizes
		// change only in Create/Free (which bump tableVer), and every read
		// re-checks ids[sl] under the seqlock, so an entry caught
		// mid-create or mid-free is corrected by the next rebuild.
		id := atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.ids[sl*8])))
		sw := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.cells[sl*8+4])))
		if id == 0 || sw&sizeMask == 0 {
			continue
		}
		if prev, dup := r.indexed(id); dup {
			if err := r.duplicateID(ver, id, prev, sl); err != nil {
				r.indexOK = false // half built
				return err
			}
			continue // a create or free raced the scan: keep the first
		}
		r.live++
		if id < uint64(len(r.dense)) {
			r.dense[id] = int32(sl) + 1
			continue
		}
		if r.sparse == nil {
			r.sparse = make(map[uint64]int32)
		}
		r.sparse[id] = int32(sl)
	}
	r.indexVer, r.indexOK = ver, true
	r.publish()
	return nil
}

// indexed returns the slot rebuild has already indexed id at.
func (r *ShmReader) indexed(id uint64) (int, bool) {
	if id < uint64(len(r.dense)) {
		if v := r.dense[id]; v != 0 {
			return int(v) - 1, true
		}
		return 0, false
	}
	sl, ok := r.sparse[id]
	return int(sl), ok
}

// duplicateID decides what a live page ID found in two slots (first and
// then) of one rebuild's scan means. A writer never publishes an ID in
// two slots: it writes ids only in a create or a free, and bumps tableVer
// after each, so a scan that saw one ID in two slots while tableVer stayed
// at ver (read before the scan) saw a damaged ids array, and the region is
// refused (ErrBadShared, naming the ID): indexing one of the two silently
// read one page's bytes for another's. When tableVer moved, a free and a
// create of the same ID raced the scan: nil, and the index, stamped with
// ver, is rebuilt at the next lookup. The C and Python readers do the
// same (TestShmReaderRefusesDuplicateIDs).
func (r *ShmReader) duplicateID(ver, id uint64, first, then int) error {
	if atomic.LoadUint64(shmWord(r.hdr, hTableVer)) != ver {
		return nil
	}
	return fmt.Errorf("%w: %s: page ID %d is in slots %d and %d of %s (a damaged slot array: a writer publishes each ID once)",
		ErrBadShared, r.dir, id, first, then, shmIDs)
}

// checkSlotsBacked refuses a high-water mark of hw slots that the ids
// array does not hold in allocated memory, before rebuild scans it. The
// slot files need only be long enough for the header's slot capacity
// (remapSlots), and a sparse file is long for free: a region whose header
// claimed about 2^31 slots over sparse slot files (a damaged or hostile
// one; only its owner can write it) made every reader scan 16 GiB of
// holes, each read of which allocates a tmpfs page, and size its dense
// index by the high-water mark, up to 16 bytes per slot of it (tens of
// GB for one page ID near 2^33). A writer reserves (fallocate)
// every slot it publishes before it publishes it (reserveSlots), so its
// ids file holds at least 8 bytes for each. Checked on a tmpfs only, the
// documented SharedDir, where allocated blocks are exact; elsewhere
// (compression, a FUSE filesystem that reports no blocks) they can be
// fewer than the data, and the reader trusts the file sizes as before
// (TestShmReaderRefusesSparseSlots). A writer reserves thousands of
// slots at a time, so most rebuilds find hw within what the last stat
// saw and make none.
func (r *ShmReader) checkSlotsBacked(hw int) error {
	need := int64(hw) * 8
	if !r.tmpfs || need <= r.idsBacked {
		return nil
	}
	n, err := allocatedAt(r.dirFD, shmIDs)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			if gerr := r.going(); gerr != nil {
				return gerr // its writer removes the region
			}
		}
		return fmt.Errorf("%w: %s: stat %s: %w", ErrBadShared, r.dir, shmIDs, err)
	}
	if n < need {
		return fmt.Errorf("%w: %s: the header's high-water mark of %d slots needs %d bytes of %s, and only %d are allocated (a sparse slot array, which no writer makes)",
			ErrBadShared, r.dir, hw, need, shmIDs, n)
	}
	r.idsBacked = n
	return nil
}

// Read reads page id consistently, calling fn with its bytes inside the
// seqlock (fn may run several times; only the last, consistent call
// counts). spin bounds attempts before the caller checks liveness: it
// returns (read, found, retries, err) with retries = attempts that failed
// the sequence check; found false means no such page.
//
// A mapped file that shrank under the reader (see recoverFault) makes it
// fail with ErrBadShared.
func (r *ShmReader) Read(id uint64, fn func(b []byte) error, maxTries int) (_ SlotRead, _ bool, retries int, err error) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, "read page", id, nil, &err)
	forced := false
	for {
		sl, ok, err := r.lookup(id)
		if err != nil {
			return SlotRead{}, false, retries, err
		}
		if !ok {
			return SlotRead{}, false, retries, nil
		}
		if ok, err := r.ensureSlot(sl); err != nil || !ok {
			return SlotRead{}, false, retries, err
		}
		rd, res, err := r.readOnce(sl, id, fn)
		switch res {
		case readOK:
			return rd, true, retries, err
		case readMissing:
			if forced {
				return SlotRead{}, false, retries, nil
			}
			// The slot no longer holds the page: look it up afresh once.
			forced = true
			if err := r.rebuild(); err != nil {
				return SlotRead{}, false, retries, err
			}
			continue
		}
		retries++
		if retries >= maxTries {
			return rd, true, retries, errRetry
		}
	}
}

// errRetry tells the caller that maxTries attempts all failed the
// sequence check: it checks liveness, backs off and calls again.
var errRetry = errors.New("page: shared read retries exhausted")

// IsRetry reports whether err is Read's retries-exhausted signal.
func IsRetry(err error) bool { return errors.Is(err, errRetry) }

// IDs returns the live page IDs in ascending order (ErrBadShared if a
// mapped file shrank under the reader, see recoverFault).
func (r *ShmReader) IDs() ([]uint64, error) {
	if err := r.guardedRebuild(); err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, r.live)
	for id, v := range r.dense {
		if v != 0 {
			ids = append(ids, uint64(id))
		}
	}
	n := len(ids)
	for id := range r.sparse {
		ids = append(ids, id)
	}
	slices.Sort(ids[n:]) // map order must not leak; all exceed the dense IDs
	return ids, nil
}

// guardedRebuild is rebuild for a caller that is not guarded itself.
func (r *ShmReader) guardedRebuild() (err error) {
	defer r.recoverFault(debug.SetPanicOnFault(true), nil, "list pages", 0, nil, &err)
	return r.rebuild()
}

// word returns the uint64 at byte offset off of a mapping whose bounds the
// caller checked (sl < r.slots covers every slot array): no bounds check
// on the per-read path.
func word(b []byte, off int) *uint64 {
	return (*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), off))
}

// TryRead is Read's fast path: one seqlock attempt at page id that needs
// nothing to change in the reader (the region live, id in the current
// index, its slot and chunk mapped, the chunk's generation unchanged). It
// calls fn like Read. done is false when the attempt could not be made or
// was not consistent (retry is then true if the sequence word moved): the
// caller falls back to Read, which calls fn again. A non-nil res receives the slot's
// sequence word, epoch and last-write LSN; View passes nil, which spares
// a random page's read the slot's line of the vers array.
//
// TryRead may run beside any other method, Close included: it reads only
// the published fast view, whose mappings stay readable, and an attempt
// that overlapped Close is discarded (it may have read zero pages).
//
// A mapped file that shrank under the reader (see recoverFault) makes it
// return done true with ErrBadShared; fn's bytes are then partial.
func (r *ShmReader) TryRead(id uint64, fn func(b []byte) error, res *SlotRead) (done, retry bool, err error) {
	v := r.fast.Load() // nil once closed or the writer is gone (SetGone)
	if v == nil {
		return false, false, nil
	}
	defer r.recoverFault(debug.SetPanicOnFault(true), v, "read page", id, &done, &err)
	if r.state() != ShmLive {
		return false, false, nil
	}
	// Slot id-1 first: a bus whose pages were created in ID order and not
	// freed keeps page id there, and guessing spares the index lookup, one
	// cache miss the slot loads would otherwise wait for. The sequence
	// word is loaded before the slot's ID, as for any slot, so the one ID
	// load both checks the guess and is covered by the seqlock; the two
	// loads' addresses are known at once, so their misses overlap.
	sl := int(id) - 1
	if uint(sl) >= uint(v.slots) {
		if sl = v.slot(id); sl < 0 {
			return false, false, nil
		}
	}
	seq := word(v.seq, sl*8)
	s1 := atomic.LoadUint64(seq)
	if atomic.LoadUint64(word(v.ids, sl*8)) != id {
		if sl = v.slot(id); sl < 0 {
			return false, false, nil
		}
		seq = word(v.seq, sl*8)
		s1 = atomic.LoadUint64(seq)
		if atomic.LoadUint64(word(v.ids, sl*8)) != id {
			return false, s1&1 != 0, nil
		}
	}
	if s1&1 != 0 {
		return false, true, nil
	}
	cw := atomic.LoadUint64(word(v.cells, sl*8))
	if res != nil {
		res.Seq = s1
		res.Epoch = atomic.LoadUint64(word(v.vers, sl*16))
		res.LSN = atomic.LoadUint64(word(v.vers, sl*16+8))
	}
	ref, size := uint32(cw), int(uint32(cw>>32)&sizeMask)
	// Where the cells follow the slots (see cellLayout), the page is
	// located from the predicted cell, which needs no load, once a branch
	// has confirmed it equals the slot's cell word: the CPU predicts the
	// branch and starts the page's cache miss without waiting for the
	// cell word's. Locating it from the loaded word chains the two misses.
	// Measured: random View 51-53 -> 47-49 ns, random ReadPage 198-200 ->
	// 181-182 ns (docs/benchmarks.md, "Predicted cells"). pr, not ref, must
	// locate the page in the first branch: the gain is that its address
	// does not depend on the load (BenchmarkReaderView shows if it does).
	if pr := v.ref0 + uint32(sl); v.linear && ref == pr {
		if !r.callCell(v, pr, size, fn, &err) {
			return false, false, nil
		}
	} else if !r.callCell(v, ref, size, fn, &err) {
		return false, false, nil
	}
	readFence()
	if atomic.LoadUint64(seq) != s1 {
		return false, true, nil
	}
	// Close stores a nil fast view before it replaces the mappings by zero
	// pages, so an attempt that may have read zeros sees nil here (the
	// fence orders fn's loads before this one) and is discarded: zeros can
	// pass the sequence check (a zero word is even and unchanged).
	if r.fast.Load() == nil {
		return false, false, nil
	}
	return true, false, err
}

// callCell calls fn on the size bytes of cell ref, if its chunk is mapped
// in v at the generation the chunk table shows and holds them; false if
// not (TryRead then declines).
func (r *ShmReader) callCell(v *fastView, ref uint32, size int, fn func(b []byte) error, err *error) bool {
	idx := int(ref >> cellBits)
	if idx >= len(v.chunks) {
		return false
	}
	c := &v.chunks[idx]
	off := uint64(ref&cellMask) * uint64(c.cellSize) // uint64: see readOnce
	gen := atomic.LoadUint32((*uint32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.chunkTab)), idx*chunkEntryBytes)))
	end := off + uint64(size)
	if size == 0 || gen != c.gen || size > c.cellSize || end > uint64(len(c.mem)) {
		return false // Read reports a size over the cell (readOnce)
	}
	*err = fn(c.mem[off:end:end])
	return true
}

// slot is page id's slot in the fast view's dense index, or -1 (not
// there: the caller takes the slow path, which consults the sparse index).
// Kept out of TryRead so that the guessed-slot path stays short: every
// instruction on it limits how many random reads the CPU overlaps.
//
//go:noinline
func (v *fastView) slot(id uint64) int {
	if id >= uint64(len(v.dense)) {
		return -1
	}
	sl := int(v.dense[id]) - 1
	if sl < 0 || sl >= v.slots {
		return -1
	}
	return sl
}
