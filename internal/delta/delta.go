// Package delta is the MMSB delta model: byte-level writes to one page, in
// three forms (sparse runs, the original's dense and sparse bit-masked forms,
// whole-page writes as a single run), with validation, application, merge,
// diff, form conversion and an append-style binary codec.
package delta

import (
	"errors"

	"github.com/mmsb-go/mmsb/internal/base"
)

// Errors returned by Validate and Decode. They are wrapped with details
// (page, offset, lengths) and are testable with errors.Is.
var (
	// ErrEmpty: the delta writes no bytes.
	ErrEmpty = errors.New("delta: empty delta")
	// ErrOutOfRange: the delta writes past the end of the page.
	ErrOutOfRange = errors.New("delta: write out of page range")
	// ErrSizeMismatch: payload length does not match the mask (dense:
	// len(payload) == MaskLen; sparse: len(payload) == popcount(mask)), or the
	// mask slice is shorter than MaskLen bits.
	ErrSizeMismatch = errors.New("delta: payload/mask size mismatch")
	// ErrMalformed: structurally invalid (unknown form, overlapping or
	// unsorted runs where sorted runs are required, a zero-length run,
	// undecodable bytes).
	ErrMalformed = errors.New("delta: malformed delta")
)

// Form is a delta's payload encoding.
type Form uint8

// Delta forms.
const (
	// FormRuns: Runs holds (offset, bytes) writes. Runs may be in any order
	// and may overlap; a later run wins on overlap.
	FormRuns Form = 0
	// FormMaskedDense: the original's dense form. Bit i of Mask (bit i%8 of
	// byte i/8, LSB first) says whether page byte i is written;
	// len(Payload) == MaskLen and page byte i takes Payload[i].
	FormMaskedDense Form = 1
	// FormMaskedSparse: like dense, but Payload holds only the written bytes
	// in ascending offset order: len(Payload) == popcount(Mask[:MaskLen]).
	FormMaskedSparse Form = 2
)

// Run is a contiguous write of Data at Offset.
type Run struct {
	Offset uint32
	Data   []byte
}

// Delta is a write to one page. The zero value is an empty FormRuns delta.
//
// The commit path fills LSN, Epoch and Time; callers set the rest.
type Delta struct {
	Page base.PageID
	Form Form
	Runs []Run // FormRuns

	Mask    []byte // masked forms: bit-packed, LSB first
	MaskLen uint32 // masked forms: number of page positions the mask covers
	Payload []byte // masked forms

	// Source labels who produced the delta ("api", "propagation", ...).
	Source string
	// Intent is opaque intent metadata (usually JSON); logged with the delta.
	Intent []byte

	// CheckEpoch enables optimistic concurrency: the delta applies only if
	// the page's epoch equals ExpectEpoch, else the commit fails with a
	// conflict and nothing in the batch is applied.
	CheckEpoch  bool
	ExpectEpoch base.Epoch

	// Set by the commit path.
	LSN   base.LSN   // the delta's log sequence number
	Epoch base.Epoch // the page's epoch after this delta
	Time  int64      // commit time, ns since the Unix epoch (injectable clock)
}

// Validate checks d structurally and against a page of pageSize bytes.
// It never allocates.
func Validate(d *Delta, pageSize int) error { panic("todo") }

// Apply writes d into page. d must have passed Validate for len(page).
// It never allocates.
func Apply(d *Delta, page []byte) { panic("todo") }

// Ranges calls fn for each maximal contiguous byte range d writes, in
// ascending offset order, without allocating for FormRuns deltas whose runs
// are sorted and non-overlapping (other shapes may allocate).
func Ranges(d *Delta, fn func(off, n uint32)) { panic("todo") }

// WrittenBytes returns the number of distinct page bytes d writes.
func WrittenBytes(d *Delta) int { panic("todo") }

// Normalize returns d in canonical form: FormRuns, runs sorted by offset,
// non-overlapping, adjacent runs coalesced, later writes winning on overlap.
// Metadata fields (Page, Source, Intent, epochs) are copied.
func Normalize(d *Delta) Delta { panic("todo") }

// Merge returns a ⊕ b: one delta whose effect equals applying a then b
// (b wins on overlap). Both must target the same page. The result is
// normalized. Merge is associative and the empty delta is its identity.
// Metadata (Source, Intent, CheckEpoch, ExpectEpoch) come from a.
func Merge(a, b *Delta) Delta { panic("todo") }

// Diff returns the minimal FormRuns delta that turns old into new (equal
// lengths required): exactly the differing bytes, as maximal runs. It returns
// an empty delta when old == new.
func Diff(page base.PageID, old, new []byte) Delta { panic("todo") }

// AppendDiff is Diff that appends runs to dst.Runs (reusing its capacity) and
// slices run data from new; it allocates nothing when dst has capacity.
func AppendDiff(dst *Delta, old, new []byte) { panic("todo") }

// ToMaskedDense converts d to FormMaskedDense covering maskLen positions
// (maskLen must cover every written byte).
func ToMaskedDense(d *Delta, maskLen uint32) Delta { panic("todo") }

// ToMaskedSparse converts d to FormMaskedSparse covering maskLen positions.
func ToMaskedSparse(d *Delta, maskLen uint32) Delta { panic("todo") }

// AppendEncode appends d's binary encoding (page, form, runs or mask and
// payload, source, intent, check-epoch; see docs/formats.md) to dst. LSN,
// Epoch and Time are not encoded: the log record that holds the delta
// carries them. It allocates only when dst must grow.
func AppendEncode(dst []byte, d *Delta) []byte { panic("todo") }

// Decode decodes one delta from src into d, reusing d.Runs' capacity, with
// Data, Mask, Payload and Intent aliasing src (Source is a string copy only
// when non-empty; common labels are interned). It returns the number of bytes
// consumed. It never panics; bad input gives ErrMalformed (wrapped).
func Decode(src []byte, d *Delta) (int, error) { panic("todo") }
