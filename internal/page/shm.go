package page

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shared mode (docs/shm.md, byte layout in docs/formats.md).
//
// In shared mode the store's page chunks and its per-slot arrays are
// MAP_SHARED mappings of files in one directory on tmpfs, so that reader
// processes can map them read-only. The Go-side bookkeeping (free lists,
// the ID index, metadata) stays private: readers rebuild an ID→slot map
// from the shared ids array. A header file publishes the layout and the
// committed LSN; a per-slot sequence word (seqlock) lets readers detect a
// page that changed while they copied it.

// Shared-region layout constants.
const (
	shmMagic   = 0x314d48535342534d // "MSBSSHM1" little-endian
	shmVersion = 1
	shmHdrSize = 4096

	// Header field offsets (all little-endian u64 unless noted).
	hMagic      = 0
	hVersion    = 8  // u32
	hHdrSize    = 12 // u32
	hGen        = 16
	hPID        = 24
	hStart      = 32
	hLSN        = 40 // committed LSN, atomic
	hState      = 48 // atomic
	hHW         = 56 // slots ever used, atomic
	hSlotCap    = 64 // atomic
	hTableVer   = 72 // bumped at every create/free, atomic
	hChunks     = 80 // chunk-table entries in use, atomic
	hMaxChunks  = 88
	hCellBits   = 96  // u32
	hSizeBits   = 100 // u32
	hLive       = 104 // live pages, atomic
	hStrides    = 112 // u8 x4: ids, vers, cells, seq strides in bytes
	hFutex      = 120 // u32: low 32 bits of the committed LSN, futex word
	hHeaderUsed = 128

	// chunkEntryBytes is one chunk-table entry: gen u32 (0: unused),
	// cellSize u32, length u64.
	chunkEntryBytes = 16
)

// Shared-region states (header word hState).
const (
	ShmBuilding   = 0 // the writer is recovering; not yet published
	ShmLive       = 1 // published; the writer runs
	ShmClosed     = 2 // the writer closed the bus cleanly
	ShmSuperseded = 3 // a newer writer rebuilt the region: reopen
)

// Shared-region file names inside the region directory.
const (
	ShmHeaderFile = "header"
	shmChunkTab   = "chunks"
	shmIDs        = "ids"
	shmVers       = "vers"
	shmCells      = "cells"
	shmSeq        = "seq"
)

// ErrBadShared means a shared region failed its checks (wrong magic,
// version, truncated file, out-of-range field).
var ErrBadShared = errors.New("page: malformed shared region")

// ShmHeader is the decoded shared header.
type ShmHeader struct {
	Gen, PID, Start    uint64
	LSN, State         uint64
	HW, SlotCap        uint64
	TableVer, Chunks   uint64
	MaxChunks, Live    uint64
	CellBits, SizeBits uint32
}

// DecodeShmHeader decodes and validates a shared header. Never panics.
func DecodeShmHeader(b []byte) (ShmHeader, error) {
	var h ShmHeader
	if len(b) < hHeaderUsed {
		return h, fmt.Errorf("%w: header is %d bytes, need %d", ErrBadShared, len(b), hHeaderUsed)
	}
	le := binary.LittleEndian
	if m := le.Uint64(b[hMagic:]); m != shmMagic {
		return h, fmt.Errorf("%w: bad magic %#x", ErrBadShared, m)
	}
	if v := le.Uint32(b[hVersion:]); v != shmVersion {
		return h, fmt.Errorf("%w: format version %d, this reader knows %d", ErrBadShared, v, shmVersion)
	}
	if n := le.Uint32(b[hHdrSize:]); n != shmHdrSize || len(b) < shmHdrSize {
		return h, fmt.Errorf("%w: header size %d (mapped %d), want %d", ErrBadShared, n, len(b), shmHdrSize)
	}
	h.Gen, h.PID, h.Start = le.Uint64(b[hGen:]), le.Uint64(b[hPID:]), le.Uint64(b[hStart:])
	h.LSN, h.State = le.Uint64(b[hLSN:]), le.Uint64(b[hState:])
	h.HW, h.SlotCap = le.Uint64(b[hHW:]), le.Uint64(b[hSlotCap:])
	h.TableVer, h.Chunks = le.Uint64(b[hTableVer:]), le.Uint64(b[hChunks:])
	h.MaxChunks, h.Live = le.Uint64(b[hMaxChunks:]), le.Uint64(b[hLive:])
	h.CellBits, h.SizeBits = le.Uint32(b[hCellBits:]), le.Uint32(b[hSizeBits:])
	switch {
	case h.CellBits != cellBits || h.SizeBits != sizeBits:
		return h, fmt.Errorf("%w: cell bits %d, size bits %d; want %d, %d", ErrBadShared, h.CellBits, h.SizeBits, cellBits, sizeBits)
	case b[hStrides] != 8 || b[hStrides+1] != 16 || b[hStrides+2] != 8 || b[hStrides+3] != 8:
		return h, fmt.Errorf("%w: slot strides %v", ErrBadShared, b[hStrides:hStrides+4])
	case h.MaxChunks != maxChunks:
		return h, fmt.Errorf("%w: chunk table of %d entries, want %d", ErrBadShared, h.MaxChunks, maxChunks)
	case h.Chunks > h.MaxChunks:
		return h, fmt.Errorf("%w: %d chunks in use, table holds %d", ErrBadShared, h.Chunks, h.MaxChunks)
	case h.SlotCap > maxSlots || h.HW > h.SlotCap:
		return h, fmt.Errorf("%w: %d slots used of %d (max %d)", ErrBadShared, h.HW, h.SlotCap, maxSlots)
	case h.Live > h.HW:
		return h, fmt.Errorf("%w: %d live pages in %d slots", ErrBadShared, h.Live, h.HW)
	case h.State > ShmSuperseded:
		return h, fmt.Errorf("%w: unknown state %d", ErrBadShared, h.State)
	}
	return h, nil
}

// shmWords returns an atomic view of header word off.
func shmWord(hdr []byte, off int) *uint64 {
	return (*uint64)(unsafe.Pointer(&hdr[off]))
}

// shmBacking is the writer's side of shared mode.
type shmBacking struct {
	dir      string // region directory (renamed once at Publish)
	perm     os.FileMode
	hdr      []byte
	chunkTab []byte
	chunkGen []uint32 // per chunk index: the generation of its current file
	seqR     region
	// tabReserved is how many leading bytes of the chunk table file, and
	// slotsReserved how many leading slots of every slot-array file, have
	// their tmpfs space allocated (reserveFile): the store writes only
	// there, so a full tmpfs is an error and never a SIGBUS.
	tabReserved   int
	slotsReserved int
	// lock holds the header's flock while the writer runs (shm_lock.go),
	// and dirLock the region directory's; nil where the filesystem has
	// no flock.
	lock, dirLock *os.File
}

// NewShared returns an empty store whose page bytes and slot arrays live in
// files under dir (created, mode 0700 or 0750 with perm 0640), which must
// not exist. gen, pid and start go into the header; the region stays in
// state ShmBuilding until Publish.
func NewShared(dir string, perm os.FileMode, gen, pid, start uint64) (*Store, error) {
	dperm := os.FileMode(0o700)
	if perm&0o040 != 0 {
		dperm = 0o750
	}
	if err := os.Mkdir(dir, dperm); err != nil {
		return nil, fmt.Errorf("page: shared region: %w", noSpace(err))
	}
	// Mkdir applies the umask; set the intended bits exactly.
	if err := os.Chmod(dir, dperm); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("page: shared region: %w", err)
	}
	b := &shmBacking{dir: dir, perm: perm}
	s := &Store{arena: arena{policy: DefaultMemoryPolicy}}
	s.shm = b
	fail := func(err error) (*Store, error) {
		_ = s.Close()
		return nil, fmt.Errorf("page: shared region %s: %w", dir, err)
	}
	var err error
	if b.hdr, err = b.mapFile(ShmHeaderFile, shmHdrSize, shmHdrSize); err != nil {
		return fail(err)
	}
	if b.lock, err = lockShmHeader(dir); err != nil {
		return fail(err)
	}
	if b.dirLock, err = lockShmFile(dir); err != nil {
		return fail(err)
	}
	// The chunk table stays sparse: newSharedChunk reserves the part its
	// entries use.
	if b.chunkTab, err = b.mapFile(shmChunkTab, maxChunks*chunkEntryBytes, 0); err != nil {
		return fail(err)
	}
	b.initRegions(s)
	le := binary.LittleEndian
	h := b.hdr
	le.PutUint32(h[hVersion:], shmVersion)
	le.PutUint32(h[hHdrSize:], shmHdrSize)
	le.PutUint64(h[hGen:], gen)
	le.PutUint64(h[hPID:], pid)
	le.PutUint64(h[hStart:], start)
	le.PutUint64(h[hMaxChunks:], maxChunks)
	le.PutUint32(h[hCellBits:], cellBits)
	le.PutUint32(h[hSizeBits:], sizeBits)
	copy(h[hStrides:], []byte{8, 16, 8, 8})
	// Magic last: a reader never accepts a half-written header.
	atomic.StoreUint64(shmWord(h, hMagic), shmMagic)
	return s, nil
}

// initRegions points the store's slot-array regions at their files.
func (b *shmBacking) initRegions(s *Store) {
	for _, r := range []*region{&s.idsR, &s.versR, &s.cellsR, &b.seqR} {
		r.shmDir, r.perm = b.dir, b.perm
	}
	s.idsR.name, s.versR.name, s.cellsR.name, b.seqR.name = shmIDs, shmVers, shmCells, shmSeq
}

// createFile creates name in the region directory with the region's mode
// and size n (sparse on tmpfs: untouched bytes cost nothing).
func createShmFile(dir, name string, perm os.FileMode, n int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil { // exact bits, whatever the umask
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	if err := f.Truncate(int64(n)); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// noSpace wraps err with ErrNoSpace when it is the filesystem's "no
// room": ENOSPC (no space, or no inode left: a tmpfs's nr_inodes) or
// EDQUOT. A SharedDir without room for a new region's directory or files
// was otherwise a bare errno that no caller could tell from any other
// failed Open (TestSharedOpenOutOfSpace).
func noSpace(err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// mapShared maps n bytes of f read-write and shared.
func mapShared(f *os.File, n int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%w: mmap shared %d bytes: %w", ErrNoSpace, n, err)
	}
	return b, nil
}

// mapFile creates name with n bytes, of which the first reserve are
// allocated (reserveFile), and maps it. The descriptor is closed: the
// mapping keeps the file alive.
func (b *shmBacking) mapFile(name string, n, reserve int) ([]byte, error) {
	f, err := createShmFile(b.dir, name, b.perm, n)
	if err != nil {
		return nil, noSpace(err)
	}
	defer func() { _ = f.Close() }() // read-only use or mapped already: nothing to flush
	// On failure the file goes too: it was made with O_EXCL, and left
	// behind it made every later file of that name fail (a chunk index
	// whose generation did not move could never be made again).
	if err := reserveFile(f, 0, int64(reserve)); err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	mem, err := mapShared(f, n)
	if err != nil {
		_ = os.Remove(f.Name())
		return nil, err
	}
	return mem, nil
}

// reserve allocates bytes [from, to) of the region file name (see
// reserveFile).
func (b *shmBacking) reserve(name string, from, to int) error {
	if to <= from {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(b.dir, name), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%w: reserve %s: %w", ErrNoSpace, name, err)
	}
	defer func() { _ = f.Close() }() // nothing written through it
	return reserveFile(f, int64(from), int64(to-from))
}

// slotReserveStep is the least number of slots reserveSlots allocates at
// once (each costs an open and a fallocate per slot array).
const slotReserveStep = 4096

// reserveSlots allocates the slot-array files' space for the slots from
// slotsReserved on, before Create writes a never-used slot: by a
// sixteenth of what is reserved, at least slotReserveStep slots, within
// the slot capacity (the files are at least that long). Reserving the
// capacity at each growth instead would allocate up to twice the slots in
// use, and a sparse write past the reserved part is what raised SIGBUS on
// a full tmpfs.
func (s *Store) reserveSlots() error {
	b := s.shm
	from := b.slotsReserved
	to := min(s.slotCap, from+max(slotReserveStep, from/16))
	for _, f := range []struct {
		r      *region
		stride int
	}{{&s.idsR, 8}, {&s.versR, 16}, {&s.cellsR, 8}, {&b.seqR, 8}} {
		if err := b.reserve(f.r.name, from*f.stride, to*f.stride); err != nil {
			return err
		}
	}
	b.slotsReserved = to
	return nil
}

// growShared grows a file-backed region to n bytes: the file is extended
// first and then the mapping (mremap may move it). Readers that mapped the
// shorter file keep a valid prefix and remap lazily: the file never shrinks.
func (r *region) growShared(n int) error {
	path := filepath.Join(r.shmDir, r.name)
	var f *os.File
	var err error
	if r.mem == nil {
		f, err = createShmFile(r.shmDir, r.name, r.perm, n)
	} else {
		f, err = os.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			err = f.Truncate(int64(n))
		}
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return fmt.Errorf("%w: grow %s to %d bytes: %w", ErrNoSpace, path, n, err)
	}
	defer func() { _ = f.Close() }() // read-only use or mapped already: nothing to flush
	created := r.mem == nil
	if err := r.mapTo(n, func() ([]byte, error) { return mapShared(f, n) }); err != nil {
		// A file created here goes with its failed first mapping: made
		// with O_EXCL, left behind it failed every later first growth of
		// this array with EEXIST (TestShmFailedSlotArrayMapLeavesNoFile).
		// A grown file keeps its length: the mapping still covers its
		// prefix, and files never shrink under readers.
		if created {
			_ = os.Remove(path)
		}
		return err
	}
	return nil
}

// adviseHuge asks for transparent huge pages on a chunk mapping of at
// least hugeHintBytes, as mapAnon does for private chunks: page bytes are
// touched at random offsets, and with 4 KiB pages nearly every delta or
// read of a random page misses the TLB. For tmpfs this takes effect only
// where the mount allows it (huge=advise or huge=always, or
// /sys/kernel/mm/transparent_hugepage/shmem_enabled = advise for the
// kernel's internal mount); elsewhere it does nothing. Errors are ignored
// (advisory).
func adviseHuge(b []byte) {
	if len(b) >= hugeHintBytes {
		adviseHugeRaw(b)
	}
}

// ChunkFileName names chunk idx's file of generation gen.
func ChunkFileName(idx, gen uint32) string {
	return "c" + strconv.FormatUint(uint64(idx), 10) + "." + strconv.FormatUint(uint64(gen), 10)
}

// newSharedChunk maps a chunk file for index idx and publishes it in the
// chunk table (length and cell size before the generation, which readers
// check first). allocate allocates the file's bytes first (a store that
// does not pre-fault its chunks: see below).
func (b *shmBacking) newSharedChunk(idx uint32, n, cellSize int, allocate bool) ([]byte, error) {
	for int(idx) >= len(b.chunkGen) {
		b.chunkGen = append(b.chunkGen, 0)
	}
	// The table entry is written below: its page of the file must be
	// allocated (see tabReserved).
	if end := roundUp((int(idx)+1)*chunkEntryBytes, osPageSize); end > b.tabReserved {
		if err := b.reserve(shmChunkTab, b.tabReserved, end); err != nil {
			return nil, fmt.Errorf("chunk %d: %w", idx, err)
		}
		b.tabReserved = end
	}
	gen := b.chunkGen[idx] + 1
	if gen == 0 {
		// 0 marks an unused entry: after 2^32-1 files for this index
		// the count goes on at 1. Published as 0, the chunk was unused to
		// every reader, and its pages unreadable for as long as it lived
		// (TestShmChunkGenerationWrapSkipsZero). A reader that kept
		// generation 1's mapping of this index unused through all 2^32
		// replacements would take the new file for it; the format has
		// only 32 bits for the generation.
		gen = 1
	}
	// Page bytes are not reserved here by default: a fallocated tmpfs
	// page is a small page even where the mapping asks for huge ones
	// (huge=advise allocates huge pages only through an advised mapping),
	// which would undo what adviseHuge buys. The memory policy's
	// pre-fault populates them through the mapping instead
	// (prepareChunk). Without pre-faulting (LazyPageMemory) they are
	// allocated here: left sparse, a full tmpfs raised SIGBUS at the
	// first delta to a page it could not back, which killed the writer.
	reserve := 0
	if allocate {
		reserve = n
	}
	mem, err := b.mapFile(ChunkFileName(idx, gen), n, reserve)
	switch {
	case errors.Is(err, ErrNoSpace): // the reservation's, which says so
		return nil, fmt.Errorf("chunk %d: %w", idx, err)
	case err != nil:
		return nil, fmt.Errorf("%w: chunk %d: %w", ErrNoSpace, idx, err)
	}
	b.chunkGen[idx] = gen
	e := b.chunkTab[int(idx)*chunkEntryBytes:]
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&e[8])), uint64(n))
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&e[4])), uint32(cellSize))
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&e[0])), gen)
	if cur := atomic.LoadUint64(shmWord(b.hdr, hChunks)); uint64(idx) >= cur {
		atomic.StoreUint64(shmWord(b.hdr, hChunks), uint64(idx)+1)
	}
	return mem, nil
}

// releaseSharedChunk unpublishes chunk idx and removes its file. A reader
// still mapping it keeps valid (stale) memory; the page's sequence word,
// bumped by Free, tells it so.
func (b *shmBacking) releaseSharedChunk(idx uint32) {
	e := b.chunkTab[int(idx)*chunkEntryBytes:]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&e[0])), 0)
	_ = os.Remove(filepath.Join(b.dir, ChunkFileName(idx, b.chunkGen[idx])))
}

// Shared reports whether the store lives in shared memory.
func (s *Store) Shared() bool { return s.shm != nil }

// SharedDir returns the shared region's directory ("" in private mode).
func (s *Store) SharedDir() string {
	if s.shm == nil {
		return ""
	}
	return s.shm.dir
}

// Sequence words. In shared mode slot sl's sequence word is 2*L-1 (odd)
// while the operation with LSN L writes the slot, and 2*L after. LSNs only
// grow, so a slot's word never repeats: a reader that sees the same even
// word before and after its copy saw no write in between (no ABA), and the
// writer never reads the word (no cache miss waited on in the hot path).

// BeginWrite marks slot sl as being written by the operation at lsn
// (sequence word odd). Shared mode only; pair with EndWrite.
func (s *Store) BeginWrite(sl Slot, lsn uint64) { beginSeq(&s.seq[sl], 2*lsn-1) }

// EndWrite marks slot sl consistent again (sequence word even).
func (s *Store) EndWrite(sl Slot, lsn uint64) { storeSeq(&s.seq[sl], 2*lsn) }

// PublishLSN publishes the committed LSN to readers and wakes those
// sleeping in a futex wait on it (one syscall per commit, shared mode
// only). No-op in private mode.
func (s *Store) PublishLSN(lsn uint64) {
	if s.shm != nil {
		s.shm.publishLSN(lsn)
	}
}

func (b *shmBacking) publishLSN(lsn uint64) {
	atomic.StoreUint64(shmWord(b.hdr, hLSN), lsn)
	f := (*uint32)(unsafe.Pointer(&b.hdr[hFutex]))
	atomic.StoreUint32(f, uint32(lsn))
	futexWakeAll(f)
}

// Publish marks the region live and renames its directory to dir (which
// must not exist), after the writer's recovery filled it.
func (s *Store) Publish(dir string, lsn uint64) error {
	b := s.shm
	if b == nil {
		return nil
	}
	s.PublishLSN(lsn)
	atomic.StoreUint64(shmWord(b.hdr, hState), ShmLive)
	if err := os.Rename(b.dir, dir); err != nil {
		atomic.StoreUint64(shmWord(b.hdr, hState), ShmBuilding)
		return fmt.Errorf("page: publish shared region: %w", err)
	}
	b.dir = dir
	for _, r := range []*region{&s.idsR, &s.versR, &s.cellsR, &b.seqR} {
		r.shmDir = dir
	}
	return nil
}

// publishTable publishes slot counts after a create or free.
func (s *Store) publishTable() {
	h := s.shm.hdr
	atomic.StoreUint64(shmWord(h, hHW), uint64(s.hw))
	atomic.StoreUint64(shmWord(h, hLive), uint64(s.live))
	atomic.AddUint64(shmWord(h, hTableVer), 1)
}

// MarkSuperseded sets the state word of an existing region's header file
// (a previous writer's) so that its readers learn to reopen. Errors are
// returned for logging only: the caller removes the directory regardless.
//
// Only a regular header file with no other link is marked, opened
// without following links (the directory and the header): anyone may
// plant a directory under a region name in /dev/shm, and a header there
// linked (symbolically or hard) to another bus's live header made the
// bus's Open mark that region superseded, failing all its readers with
// ErrStale (TestSharedLinkedHeaderAtRegionName).
func MarkSuperseded(dir string) error {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer func() { _ = unix.Close(dfd) }()
	// O_NONBLOCK: a FIFO planted as the header would block the open.
	fd, err := unix.Openat(dfd, ShmHeaderFile, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(dir, ShmHeaderFile), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, ShmHeaderFile))
	defer func() { _ = f.Close() }() // read-only use or mapped already: nothing to flush
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < shmHdrSize {
		return fmt.Errorf("%w: header not a regular file of %d bytes or more", ErrBadShared, shmHdrSize)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Nlink != 1 {
		return fmt.Errorf("%w: header has other links", ErrBadShared)
	}
	b, err := mapShared(f, shmHdrSize)
	if err != nil {
		return err
	}
	defer func() { _ = unix.Munmap(b) }()
	if binary.LittleEndian.Uint64(b[hMagic:]) != shmMagic {
		return fmt.Errorf("%w: bad magic", ErrBadShared)
	}
	atomic.StoreUint64(shmWord(b, hState), ShmSuperseded)
	return nil
}

// closeShared marks the region closed and removes its directory; mappings
// (ours until unmapped, readers' until they close) stay valid.
func (s *Store) closeShared() error {
	b := s.shm
	err := os.RemoveAll(b.dir)
	for _, m := range [][]byte{b.hdr, b.chunkTab} {
		if e := unmap(m); e != nil && err == nil {
			err = e
		}
	}
	if e := b.seqR.release(); e != nil && err == nil {
		err = e
	}
	for _, l := range []**os.File{&b.lock, &b.dirLock} {
		if *l != nil {
			_ = (*l).Close() // drops the flock, last: the region is gone
			*l = nil
		}
	}
	return err
}

// ProcStartTime returns a process's start time in clock ticks since boot
// (field 22 of /proc/PID/stat): with the PID it names a process uniquely,
// so a recycled PID is not taken for the writer.
func ProcStartTime(pid int) (uint64, error) {
	_, start, err := procStat(pid)
	return start, err
}

// procStat returns a process's state letter (field 3 of /proc/PID/stat:
// 'Z' zombie, 'X' dead, ...) and start time (field 22).
func procStat(pid int) (byte, uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, 0, fmt.Errorf("page: /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// Fields after the command: state is field 3, starttime field 22.
	if len(f) < 20 || len(f[0]) == 0 {
		return 0, 0, fmt.Errorf("page: /proc/%d/stat: %d fields", pid, len(f))
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}
