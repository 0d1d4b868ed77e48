// Package page is the MMSB page table: page bytes in pointer-free arenas
// (anonymous mmap chunks, so the Go GC never scans or counts them) and page
// metadata in flat per-slot arrays indexed by slot number.
//
// A Store is not safe for concurrent mutation; the bus serialises writers.
// Concurrent readers of distinct pages are safe while no Create/Free runs.
package page

import (
	"errors"

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
}

// Store holds pages.
type Store struct{}

// New returns an empty store.
func New() *Store { panic("todo") }

// Create creates a zero-filled page of size bytes (1..base.MaxPageSize)
// with ID id (id != 0) at loc (only LocationCPU is accepted). Its epoch is 0.
func (s *Store) Create(id base.PageID, size int, loc base.Location) (Slot, error) { panic("todo") }

// Free removes page id; its slot and bytes are reused by later creates
// (bytes are zeroed before reuse).
func (s *Store) Free(id base.PageID) error { panic("todo") }

// Lookup returns the slot of page id. This is on the hot path: it must not
// allocate and should be O(1) (a direct index for dense IDs).
func (s *Store) Lookup(id base.PageID) (Slot, bool) { panic("todo") }

// Bytes returns the page's bytes: a view into the arena, valid until the
// page is freed or the store closed.
func (s *Store) Bytes(sl Slot) []byte { panic("todo") }

// ID returns the page ID in slot sl.
func (s *Store) ID(sl Slot) base.PageID { panic("todo") }

// Size returns the page size in slot sl.
func (s *Store) Size(sl Slot) int { panic("todo") }

// Epoch returns the page's epoch.
func (s *Store) Epoch(sl Slot) base.Epoch { panic("todo") }

// SetEpoch sets the page's epoch.
func (s *Store) SetEpoch(sl Slot, e base.Epoch) { panic("todo") }

// LastLSN returns the LSN of the last logged operation that wrote the page.
func (s *Store) LastLSN(sl Slot) base.LSN { panic("todo") }

// SetLastLSN records the LSN of the last operation that wrote the page.
func (s *Store) SetLastLSN(sl Slot, l base.LSN) { panic("todo") }

// Location returns the page's location tag.
func (s *Store) Location(sl Slot) base.Location { panic("todo") }

// Meta returns the page's metadata entries (shared; do not modify).
func (s *Store) Meta(sl Slot) []MetaEntry { panic("todo") }

// SetMeta replaces the page's metadata (copied). Encoded size must be
// <= MaxMetaBytes. Keys are kept in the given order; duplicate keys: last wins.
func (s *Store) SetMeta(sl Slot, entries []MetaEntry) error { panic("todo") }

// Len returns the number of live pages.
func (s *Store) Len() int { panic("todo") }

// AppendIDs appends the live page IDs in ascending order to dst.
func (s *Store) AppendIDs(dst []base.PageID) []base.PageID { panic("todo") }

// Stats returns store statistics.
func (s *Store) Stats() Stats { panic("todo") }

// Close unmaps all arenas. The store must not be used afterwards.
func (s *Store) Close() error { panic("todo") }

// AppendMeta appends the metadata encoding (u32 count, then per entry u32 key
// length, key, u32 value length, value; empty when there are no entries) to dst.
func AppendMeta(dst []byte, entries []MetaEntry) []byte { panic("todo") }

// DecodeMeta decodes AppendMeta's encoding. Never panics.
func DecodeMeta(src []byte) ([]MetaEntry, error) { panic("todo") }
