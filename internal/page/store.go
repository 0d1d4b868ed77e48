// Package page is the MMSB page table: page bytes in pointer-free arenas
// (anonymous mmap chunks, so the Go GC never scans or counts them) and page
// metadata in flat per-slot arrays indexed by slot number.
//
// A Store is not safe for concurrent mutation; the bus serialises writers.
// Concurrent readers of distinct pages are safe while no Create/Free runs.
package page

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/mmsb-go/mmsb/internal/base"
)

// Errors, wrapped with the page ID or size involved.
var (
	ErrNotFound        = errors.New("page: not found")
	ErrExists          = errors.New("page: already exists")
	ErrInvalidSize     = errors.New("page: invalid size")
	ErrInvalidLocation = errors.New("page: unsupported location")
	ErrMetaTooLarge    = errors.New("page: metadata too large")
	ErrInvalidID       = errors.New("page: invalid page id")
	// ErrNoSpace means the OS refused memory (mmap/mremap failed, e.g. the
	// process hit vm.max_map_count or an address-space limit) or an internal
	// reference space (2^20 chunks, 2^31-1 slots) is exhausted.
	ErrNoSpace = errors.New("page: out of arena space")
	// ErrBadMeta means a metadata encoding given to DecodeMeta is malformed.
	ErrBadMeta = errors.New("page: malformed metadata encoding")
)

// MaxMetaBytes bounds a page's encoded key/value metadata.
const MaxMetaBytes = 64 << 10

// Slot indexes a live page in the store's flat arrays. Slots of freed pages
// are reused.
type Slot int32

// MetaEntry is one key/value metadata pair.
type MetaEntry struct {
	Key   string
	Value []byte
}

// Stats describes the store.
type Stats struct {
	Pages        int   // live pages
	LogicalBytes int64 // sum of live page sizes
	ArenaBytes   int64 // bytes mapped for page data (in use + free)
	ArenaFree    int64 // mapped bytes not holding a live page
	MetaBytes    int64 // bytes of per-slot arrays and the ID index
	Creates      uint64
	Frees        uint64
	// DirectPages is how many pages the commit path reaches without
	// loading an index entry or a cell (the in-order and flat prefixes:
	// see Lookup and Bytes); the rest cost a cache line more each.
	DirectPages int
	// KVBytes is the encoded size of all pages' key/value metadata (kept in
	// a side table, not counted in MetaBytes).
	KVBytes int64
}

// Slot array layout. sizes packs the page size (at most base.MaxPageSize =
// 2^24, so 25 bits) with the location tag above it; a zero entry marks a
// free slot, since live pages are at least one byte.
const (
	sizeBits = 25
	sizeMask = 1<<sizeBits - 1
	// slotBytes is the resident cost of one slot across all slot arrays:
	// id, epoch, lastLSN (8 each), cell ref and size|location (4 each).
	slotBytes = 8 + 8 + 8 + 4 + 4
	// maxSlots keeps slot+1 representable in the int32 ID index.
	maxSlots = 1<<31 - 2
	// minSlots is the first slot-array reservation (address space only;
	// untouched memory is not resident).
	minSlots = 16 << 10
)

// Store holds pages.
type Store struct {
	// Per-slot arrays: views over anonymous mappings (see region), all
	// indexed by Slot. Views may be longer than slotCap.
	//
	// Fields used together on the commit hot path share an array element,
	// so that a delta to a random page misses the cache once per pair
	// instead of once per field.
	ids   []uint64
	vers  []slotVersion // epoch and last-write LSN
	cells []slotCell    // cell reference and size

	idsR, versR, cellsR region

	// seq is the per-slot sequence word of shared mode (seqlock: odd while
	// the slot is written); nil in private mode. Its region is shm.seqR.
	seq []uint64

	slotCap  int   // slots usable in every slot array
	hw       int32 // slots ever handed out (high-water mark)
	freeSlot int32 // head of the free-slot list, slot+1; 0 when empty

	// ID index (see index.go). dense[id-denseBase] is slot+1 for a page
	// in the dense window, 0 otherwise; other pages are in sparse.
	dense       []int32
	denseR      region
	denseBase   base.PageID
	denseLive   int    // non-zero entries in dense
	denseRetry  uint64 // creates count before which placeDense is not retried
	sparse      map[base.PageID]int32
	rebalanceAt int // live count at which rebalance next runs
	// ident: pages 1..ident are at slots 0..ident-1 (each created, in ID
	// order, in the slot after the previous one, none freed since), so
	// Lookup answers them without reading the index: one random cache
	// line fewer per delta on a large bus whose pages were created in
	// order (docs/benchmarks.md).
	ident base.PageID
	// flat: slots 0..flat-1 hold cells flatRef+slot, all with size word
	// flatSize (pages of one size created one after another into fresh
	// cells, none freed since). Their size and address are computed from
	// the slot, so a delta to such a page loads no cells entry: with
	// ident, the commit path touches two random cache lines per delta
	// (the slot's vers entry and the page bytes) instead of three. In
	// shared mode the cells entries are still written (readers in other
	// processes load them); in private mode a fresh slot's is not (see
	// CreateAt and cell).
	//
	// flatRef and flatSize are set once, by the first page the prefix
	// takes, and never change: a slot the prefix held before a free cut
	// it keeps its computed cell (cell), which must stay the same.
	flat     uint32
	flatRef  uint32
	flatSize uint32
	// unstored counts the 8-byte ids and cells entries of live slots left
	// unwritten (computed instead; private mode only), for Stats.
	unstored int64

	arena

	// meta holds key/value metadata for the few pages that have any.
	meta    map[Slot][]MetaEntry
	kvBytes int64

	live    int
	logical int64
	creates uint64
	frees   uint64
}

// New returns an empty store with DefaultMemoryPolicy. It maps nothing
// until the first Create.
func New() *Store { return &Store{arena: arena{policy: DefaultMemoryPolicy}} }

// checkCreate validates Create's arguments.
func checkCreate(id base.PageID, size int, loc base.Location) error {
	if id == 0 {
		return fmt.Errorf("%w: page id 0 is reserved (it means \"assign one\")", ErrInvalidID)
	}
	if size < 1 || size > base.MaxPageSize {
		return fmt.Errorf("%w: page %d: size %d not in [1, %d]", ErrInvalidSize, id, size, base.MaxPageSize)
	}
	switch loc {
	case base.LocationCPU:
		return nil
	case base.LocationGPU, base.LocationUnified:
		return fmt.Errorf("%w: page %d: location %s: no device backend exists", ErrInvalidLocation, id, loc)
	}
	return fmt.Errorf("%w: page %d: unknown location %d", ErrInvalidLocation, id, loc)
}

// Create creates a zero-filled page of size bytes (1..base.MaxPageSize)
// with ID id (id != 0) at loc (only LocationCPU is accepted). Its epoch is 0.
//
// On error the store is unchanged (apart from address space reserved for
// growth).
func (s *Store) Create(id base.PageID, size int, loc base.Location) (Slot, error) {
	return s.CreateAt(id, size, loc, 0)
}

// CreateAt is Create for the logged operation at lsn: the page's last-write
// LSN is lsn, and in shared mode the slot's sequence word moves to 2*lsn
// (lsn must exceed every LSN the slot saw before; see BeginWrite).
func (s *Store) CreateAt(id base.PageID, size int, loc base.Location, lsn uint64) (Slot, error) {
	if err := checkCreate(id, size, loc); err != nil {
		return -1, err
	}
	if _, ok := s.Lookup(id); ok {
		return -1, fmt.Errorf("%w: page %d", ErrExists, id)
	}
	// Grow everything that can fail before taking anything, so a failure
	// needs no rollback.
	if id-s.denseBase >= base.PageID(len(s.dense)) && s.creates >= s.denseRetry {
		if err := s.placeDense(id); err != nil {
			// The window's mapping could not grow: the page goes to the
			// sparse map, which is always correct, and placement is
			// retried later, as when the policy refuses. A create never
			// fails for the index, which ReserveCreates cannot foresee.
			s.denseRetry = s.creates + uint64(max(len(s.dense)/4, 1024))
		}
	}
	if s.freeSlot == 0 && int(s.hw) == s.slotCap {
		if err := s.growSlots(); err != nil {
			return -1, fmt.Errorf("page %d: growing slot arrays: %w", id, err)
		}
	}
	if s.shm != nil && s.freeSlot == 0 && int(s.hw) >= s.shm.slotsReserved {
		if err := s.reserveSlots(); err != nil {
			return -1, fmt.Errorf("page %d: reserving shared slot arrays: %w", id, err)
		}
	}
	ref, err := s.alloc(size)
	if err != nil {
		return -1, fmt.Errorf("page %d: allocating %d bytes: %w", id, size, err)
	}

	var sl Slot
	fresh := s.freeSlot == 0 // a slot never handed out: its entries are zero
	if !fresh {
		sl = Slot(s.freeSlot - 1)
		s.freeSlot = int32(s.cells[sl].ref &^ freeLink)
	} else {
		sl = Slot(s.hw)
		s.hw++
	}
	if s.shm != nil {
		s.BeginWrite(sl, lsn)
	}
	s.vers[sl].epoch = 0
	s.vers[sl].lsn = lsn
	// A slot the prefixes take has its ID and cell computed, not loaded
	// (ID, cell): in private mode, for a fresh slot, they are not stored
	// either, which keeps the ids and cells arrays' pages untouched, 16 B
	// per page of RSS for pages created in order (docs/page.md, "What a
	// page costs in memory"). The entry stays zero, and a zero entry is
	// what tells ID and cell, once a free has cut the prefix below the
	// slot, to go on computing it: a cut writes nothing. A reused slot's
	// entries hold its last page's (a free link) and are written.
	// Shared-memory readers read the arrays: there they are always
	// written.
	keep := fresh && s.shm == nil
	word := uint32(size) | uint32(loc)<<sizeBits
	if s.extendFlat(sl, ref, word) && keep {
		s.unstored++
	} else {
		s.cells[sl] = slotCell{ref: ref, size: word}
	}
	if s.indexInsert(id, sl) && keep {
		s.unstored++
	} else {
		s.ids[sl] = uint64(id)
	}
	s.live++
	if s.shm != nil {
		s.EndWrite(sl, lsn)
		s.publishTable()
	}
	s.logical += int64(size)
	s.creates++
	if len(s.sparse) != 0 && s.live >= s.rebalanceAt {
		s.rebalance()
	}
	return sl, nil
}

// ReserveCreates makes room for n creates of sizeOf(0), ..., sizeOf(n-1)
// bytes (each 1..base.MaxPageSize), made next and in that order, so that
// none of them can fail for memory or space: it grows the slot arrays for
// the creates that free slots do not cover (in shared mode it also
// allocates their tmpfs space), and maps and prepares (pre-faults) the
// chunks their bytes will take. The bus calls it before it logs a batch
// of creates: a create it logged and then could not apply would fail the
// bus. It is cheap when the room exists (nothing is mapped), and what it
// maps is what those creates would have mapped, in the same order.
//
// On error (wrapping ErrNoSpace) the chunks it mapped are unmapped again
// and the store is otherwise unchanged (slot arrays may stay grown, as
// when a create fails). A reservation whose creates are not made is used
// by later creates, or given back by ReleaseReserved.
func (s *Store) ReserveCreates(n int, sizeOf func(i int) int) error {
	var total int64
	for i := range n {
		size := sizeOf(i)
		if size < 1 || size > base.MaxPageSize {
			return fmt.Errorf("%w: reserving room for page %d of %d: size %d not in [1, %d]", ErrInvalidSize, i, n, size, base.MaxPageSize)
		}
		total += int64(size)
	}
	// A batch that cannot fit, whatever cells it reuses, is refused before
	// anything is mapped: chunk by chunk, a batch of 128 GiB of pages was
	// pre-faulted until the OOM killer ended the process.
	if s.limit > 0 && s.logical+total > s.limit {
		return fmt.Errorf("%w: %d new pages of %d bytes in all, with %d bytes of pages live, exceed the limit of %d bytes of page memory",
			ErrNoSpace, n, total, s.logical, s.limit)
	}
	if err := s.reserveSlotsFor(n); err != nil {
		return fmt.Errorf("reserving slots for %d new pages: %w", n, err)
	}
	if err := s.reserveCells(n, sizeOf); err != nil {
		return fmt.Errorf("reserving page memory for %d new pages: %w", n, err)
	}
	return nil
}

// reserveSlotsFor grows the slot arrays (and, in shared mode, their
// reserved tmpfs space) for n creates: those that the free slots (hw -
// live of them) do not take need never-used slots.
func (s *Store) reserveSlotsFor(n int) error {
	fresh := int64(n) - int64(int(s.hw)-s.live)
	if fresh <= 0 {
		return nil
	}
	want := int64(s.hw) + fresh
	if want > maxSlots {
		return fmt.Errorf("%w: %d slots wanted, at most %d", ErrNoSpace, want, maxSlots)
	}
	for int64(s.slotCap) < want {
		if err := s.growSlots(); err != nil {
			return err
		}
	}
	for s.shm != nil && int64(s.shm.slotsReserved) < want {
		if err := s.reserveSlots(); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseReserved unmaps the chunks that ReserveCreates mapped for creates
// that were not made (their batch was refused after its reservation).
// Nothing else changes.
func (s *Store) ReleaseReserved() error { return s.releaseSpares(0) }

// SetArenaLimit bounds the bytes the store maps for page data (Stats'
// ArenaBytes) at n; n <= 0 removes the bound. A create, or a reservation,
// that would map past it fails with ErrNoSpace as if the OS had refused
// the mapping, and a reservation whose pages with the live ones add up to
// more is refused before it maps anything. The bus sets it to the
// machine's memory (PhysicalMemory) when it pre-faults page memory; tests
// set it to refuse memory deterministically. Reset keeps the bound.
func (s *Store) SetArenaLimit(n int64) { s.limit = max(n, 0) }

// slotVersion is a slot's epoch and last-write LSN.
type slotVersion struct {
	epoch uint64
	lsn   uint64
}

// slotCell locates a slot's bytes.
type slotCell struct {
	ref  uint32 // cell reference; for a free slot, the next free slot+1
	size uint32 // size | location<<sizeBits; 0 for a free slot
}

// extendFlat grows the flat prefix by slot sl, being created with cell
// ref and size word size, if sl is the slot after it and its cell
// continues the prefix's layout, and reports whether it did. The
// allocator's own answer is compared, so a cell that is not the next one
// (a reused cell, a new chunk that is not the next index, another size)
// ends the prefix instead of corrupting it.
func (s *Store) extendFlat(sl Slot, ref, size uint32) bool {
	if uint32(sl) != s.flat {
		return false
	}
	if s.flatSize == 0 { // the prefix's first page: its layout is set for good
		s.flatRef, s.flatSize = ref, size
	} else if ref != s.flatRef+s.flat || size != s.flatSize {
		return false
	}
	s.flat++
	return true
}

// cell returns slot sl's cell reference and size word: computed for a
// slot in the flat prefix, loaded otherwise. A zero entry is a slot the
// flat prefix held when it was cut below it (a live slot has a size, a
// free slot a free link): its cell is still computed. Cutting the prefix
// therefore writes nothing, where storing the entries it cut off held the
// bus lock 38 ms at 4M pages (docs/page.md).
func (s *Store) cell(sl Slot) slotCell {
	if uint32(sl) < s.flat {
		return s.flatCell(sl)
	}
	if c := s.cells[sl]; c != (slotCell{}) {
		return c
	}
	return s.flatCell(sl)
}

// flatCell is the cell the flat prefix's layout gives slot sl.
func (s *Store) flatCell(sl Slot) slotCell {
	return slotCell{ref: s.flatRef + uint32(sl), size: s.flatSize}
}

// freeLink marks a free slot's cells.ref, which holds the next free
// slot + 1: with it no free slot's entry is zero, the mark of a slot
// whose cell is computed (cell). Slots stay below 2^31.
const freeLink = 1 << 31

// growSlots doubles the capacity of every slot array.
func (s *Store) growSlots() error {
	if s.slotCap >= maxSlots {
		return fmt.Errorf("%w: all %d slots in use", ErrNoSpace, maxSlots)
	}
	n := min(max(2*s.slotCap, minSlots), maxSlots)
	for _, g := range []struct {
		r    *region
		size int
	}{{&s.idsR, 8}, {&s.versR, 16}, {&s.cellsR, 8}, {s.seqRegion(), 8}} {
		if g.r == nil {
			continue
		}
		if err := g.r.grow(n * g.size); err != nil {
			s.retakeSlotViews()
			return err
		}
	}
	s.retakeSlotViews()
	s.slotCap = n
	if s.shm != nil {
		// After every file grew: readers map files at least this long.
		atomic.StoreUint64(shmWord(s.shm.hdr, hSlotCap), uint64(n))
	}
	return nil
}

// retakeSlotViews refreshes the slot-array views after their regions moved.
func (s *Store) retakeSlotViews() {
	s.ids = u64s(s.idsR.mem)
	s.vers = unsafe.Slice((*slotVersion)(unsafe.Pointer(unsafe.SliceData(s.versR.mem))), len(s.versR.mem)/16)
	s.cells = unsafe.Slice((*slotCell)(unsafe.Pointer(unsafe.SliceData(s.cellsR.mem))), len(s.cellsR.mem)/8)
	if s.shm != nil {
		s.seq = u64s(s.shm.seqR.mem)
	}
}

// seqRegion returns the sequence-word region (nil in private mode).
func (s *Store) seqRegion() *region {
	if s.shm == nil {
		return nil
	}
	return &s.shm.seqR
}

// Free removes page id; its slot and bytes are reused by later creates
// (bytes are zeroed before reuse). It is O(1) and touches no page memory;
// a page larger than 1 MiB has its mapping returned to the OS at once.
// Views returned by Bytes for this page must not be used afterwards.
func (s *Store) Free(id base.PageID) error { return s.FreeAt(id, 0) }

// FreeAt is Free for the logged operation at lsn (in shared mode the
// slot's sequence word moves to 2*lsn; see BeginWrite).
func (s *Store) FreeAt(id base.PageID, lsn uint64) error {
	sl, ok := s.Lookup(id)
	if !ok {
		return fmt.Errorf("%w: page %d", ErrNotFound, id)
	}
	c := s.cell(sl)
	if err := s.release(c.ref); err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	// An entry left zero was computed (see CreateAt); both are written
	// below. A reused slot in a prefix has its entries written.
	if s.ids[sl] == 0 {
		s.unstored--
	}
	if s.cells[sl] == (slotCell{}) {
		s.unstored--
	}
	s.indexRemove(id, sl)
	if uint32(sl) < s.flat {
		s.flat = uint32(sl) // the cells past it stay unwritten: see cell
	}
	if s.meta != nil {
		if old, ok := s.meta[sl]; ok {
			s.kvBytes -= int64(encodedMetaSize(old))
			delete(s.meta, sl)
		}
	}
	s.live--
	s.logical -= int64(c.size & sizeMask)
	s.frees++
	if s.shm != nil {
		s.shm.noteFree(lsn) // before the slot changes: see hFreeLSN
		s.BeginWrite(sl, lsn)
	}
	s.ids[sl] = 0
	s.vers[sl].epoch = 0
	s.vers[sl].lsn = 0
	s.cells[sl].size = 0
	s.cells[sl].ref = uint32(s.freeSlot) | freeLink
	s.freeSlot = int32(sl) + 1
	if s.shm != nil {
		s.EndWrite(sl, lsn)
		s.publishTable()
	}
	return nil
}

// Bytes returns the page's bytes: a view into the arena, valid until the
// page is freed or the store closed. Its capacity equals its length, so an
// append copies instead of overwriting a neighbouring page.
func (s *Store) Bytes(sl Slot) []byte {
	c := s.cell(sl)
	return s.view(c.ref, int(c.size&sizeMask))
}

// InSharedChunk reports whether page sl's bytes lie in a chunk carved
// into cells, which stays mapped while the store is open. A large page has
// its own mapping, unmapped when the page is freed: only the former may be
// read without the caller's lock (the checkpoint's copy, which discards
// what it read of a page changed meanwhile).
func (s *Store) InSharedChunk(sl Slot) bool {
	return int(s.cell(sl).size&sizeMask) <= largePage
}

// ID returns the page ID in slot sl.
func (s *Store) ID(sl Slot) base.PageID {
	if base.PageID(sl) < s.ident { // the in-order prefix: not stored in private mode
		return base.PageID(sl) + 1
	}
	if id := s.ids[sl]; id != 0 {
		return base.PageID(id)
	}
	// A zero entry is a slot the in-order prefix held when a free cut it
	// below the slot (page IDs are never 0): its ID is still computed.
	return base.PageID(sl) + 1
}

// Size returns the page size in slot sl.
func (s *Store) Size(sl Slot) int { return int(s.cell(sl).size & sizeMask) }

// Epoch returns the page's epoch.
func (s *Store) Epoch(sl Slot) base.Epoch { return base.Epoch(s.vers[sl].epoch) }

// SetEpoch sets the page's epoch.
func (s *Store) SetEpoch(sl Slot, e base.Epoch) { s.vers[sl].epoch = uint64(e) }

// LastLSN returns the LSN of the last logged operation that wrote the page.
func (s *Store) LastLSN(sl Slot) base.LSN { return base.LSN(s.vers[sl].lsn) }

// SetLastLSN records the LSN of the last operation that wrote the page.
func (s *Store) SetLastLSN(sl Slot, l base.LSN) { s.vers[sl].lsn = uint64(l) }

// Location returns the page's location tag.
func (s *Store) Location(sl Slot) base.Location {
	return base.Location(s.cell(sl).size >> sizeBits)
}

// Len returns the number of live pages.
func (s *Store) Len() int { return s.live }

// ForEach calls fn for every live slot in ascending page-ID order until fn
// returns false. fn must not create or free pages. The dense window is
// walked in order and merged with the sorted sparse IDs, so map order never
// leaks. Cost is O(window entries up to the last live one + k log k) for
// k sparse IDs.
func (s *Store) ForEach(fn func(sl Slot) bool) {
	s.forEachID(func(_ base.PageID, sl Slot) bool { return fn(sl) })
}

// AppendIDs appends the live page IDs in ascending order to dst.
//
// A checkpoint's snapshot calls it under the bus lock, so the usual case,
// every page in the dense window, is one loop over the window rather than
// a call per ID through forEachID (BenchmarkAppendIDs).
func (s *Store) AppendIDs(dst []base.PageID) []base.PageID {
	dst = slices.Grow(dst, s.live)
	if len(s.sparse) != 0 {
		s.forEachID(func(id base.PageID, _ Slot) bool {
			dst = append(dst, id)
			return true
		})
		return dst
	}
	left := s.denseLive // stop at the last live entry (see forEachID)
	for i, v := range s.dense {
		if left == 0 {
			break
		}
		if v != 0 {
			dst = append(dst, s.denseBase+base.PageID(i))
			left--
		}
	}
	return dst
}

// Stats returns store statistics.
func (s *Store) Stats() Stats {
	const sparseEntryBytes = 24 // approximate Go map cost per int64->int32 entry
	return Stats{
		Pages:        s.live,
		LogicalBytes: s.logical,
		ArenaBytes:   s.mapped,
		ArenaFree:    s.mapped - s.logical,
		MetaBytes: s.slotArrayBytes() + int64(len(s.denseR.mem)) + // the window as mapped (its view may be capped)
			int64(len(s.sparse))*sparseEntryBytes + s.bookkeepingBytes(),
		Creates:     s.creates,
		Frees:       s.frees,
		DirectPages: min(int(s.ident), int(s.flat)),
		KVBytes:     s.kvBytes,
	}
}

// slotArrayBytes is what the slot arrays hold for the slots handed out:
// in private mode, the IDs and cells of pages created into the prefixes
// are computed and not stored (see CreateAt), even once a free cut the
// prefix below them.
func (s *Store) slotArrayBytes() int64 {
	return int64(s.hw)*slotBytes - 8*s.unstored
}

// Reset frees every page and returns all memory to the OS, leaving an empty,
// usable store (as from New, counters included). Recovery uses it when a
// checkpoint load fails midway. Views from Bytes become invalid.
func (s *Store) Reset() {
	// Unmapping a whole mapping we created cannot fail short of a corrupted
	// mapping table; there is nothing useful to do with such an error here,
	// and the store is emptied regardless.
	_ = s.releaseAllMemory(false)
}

// releaseAllMemory unmaps everything and empties the store, returning the
// first error met. closing says the store is being closed rather than
// reset (see below).
func (s *Store) releaseAllMemory(closing bool) error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(s.releaseAll())
	for _, r := range []*region{&s.idsR, &s.versR, &s.cellsR, &s.denseR} {
		keep(r.release())
	}
	shm := s.shm
	if shm != nil {
		// Reset in shared mode (recovery before publication): keep the
		// header and directory, start the slot arrays and chunks afresh.
		keep(shm.seqR.release())
		shm.slotsReserved = 0 // the slot files are gone
		// hdr is nil when NewShared failed to map it (Close of the
		// half-built store). Close leaves the published counts and the
		// table as they are: readers may still be attached, and one that
		// passed its state check just before Close and then rebuilt its
		// index from a high-water mark of 0 reported every page missing
		// (no such page, an empty page list) instead of the writer gone.
		// Close has marked the region closed and releases every chunk
		// (generation 0) anyway; only a Reset, before the region is
		// published, needs them emptied.
		if shm.hdr != nil && !closing {
			// Only the entries in use: clearing the whole 16 MiB sparse
			// table made the tmpfs allocate all of it (and, when it was
			// full, raised SIGBUS in Close).
			used := min(atomic.LoadUint64(shmWord(shm.hdr, hChunks)), maxChunks)
			clear(shm.chunkTab[:min(int(used)*chunkEntryBytes, len(shm.chunkTab))])
			for _, w := range []int{hHW, hSlotCap, hLive, hChunks} {
				atomic.StoreUint64(shmWord(shm.hdr, w), 0)
			}
			atomic.AddUint64(shmWord(shm.hdr, hTableVer), 1)
		}
	}
	policy, limit := s.policy, s.limit
	*s = Store{}
	s.policy, s.limit = policy, limit
	if shm != nil {
		s.shm = shm
		shm.initRegions(s)
	}
	return first
}

// MarkClosed marks the shared region closed, as Close does first, and
// wakes the readers waiting for a commit: every reader's next call reports
// the writer gone (ErrWriterGone) at once, and those attached with a
// liveness watch reattach when a new writer publishes. The store stays
// usable by its own process; a later Close removes the region. A bus
// calls it when it fails on a panic of its own code that stopped between
// a page's BeginWrite and EndWrite (MidWrite): that page's sequence word
// stays odd, and its readers waited WriterTimeout for it. A region
// state of its own would have been clearer, but readers of the current
// format (the C and Python ones too) take any state past superseded for
// a damaged header. No-op in private mode.
func (s *Store) MarkClosed() {
	shm := s.shm
	if shm == nil || shm.hdr == nil {
		return
	}
	atomic.StoreUint64(shmWord(shm.hdr, hState), ShmClosed)
	futexWakeAll((*uint32)(unsafe.Pointer(&shm.hdr[hFutex])))
}

// Close unmaps all arenas. The store must not be used afterwards; views from
// Bytes must not be touched (they point at unmapped memory). In shared mode
// the region is marked closed and its directory removed.
func (s *Store) Close() error {
	shm := s.shm
	// First, so that readers report the writer gone rather than finding
	// the chunks released below.
	s.MarkClosed()
	err := s.releaseAllMemory(true)
	if shm != nil {
		if e := s.closeShared(); e != nil && err == nil {
			err = e
		}
		s.shm = nil
	}
	return err
}
