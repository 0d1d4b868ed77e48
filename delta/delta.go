// Package delta is the MMSB delta model: byte-level writes to one page, in
// three forms (sparse runs, the original's dense and sparse bit-masked forms,
// whole-page writes as a single run), with validation, application, merge,
// diff, form conversion and an append-style binary codec.
//
// Every function is defined for any Delta value, valid or not (see
// docs/delta.md); the *Delta, *Run and function arguments must not be nil.
package delta

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by Validate, Apply, Decode, Merge, Diff and the form
// conversions. They are wrapped with details (page, offset, lengths) and
// are testable with errors.Is.
var (
	// ErrEmpty: the delta writes no bytes.
	ErrEmpty = errors.New("delta: empty delta")
	// ErrOutOfRange: the delta writes (or a read reads) past the end of the
	// page.
	ErrOutOfRange = errors.New("delta: out of page range")
	// ErrSizeMismatch: payload length does not match the mask (dense:
	// len(payload) == MaskLen; sparse: len(payload) == popcount(mask)), or the
	// mask slice is shorter than MaskLen bits.
	ErrSizeMismatch = errors.New("delta: payload/mask size mismatch")
	// ErrMalformed: structurally invalid (unknown form, overlapping or
	// unsorted runs where sorted runs are required, a zero-length run,
	// undecodable bytes).
	ErrMalformed = errors.New("delta: malformed delta")
	// ErrPageMismatch: Merge was given deltas to two different pages.
	ErrPageMismatch = errors.New("delta: deltas target different pages")
	// ErrLengthMismatch: Diff was given old and new images of different
	// lengths (or longer than a run offset can address).
	ErrLengthMismatch = errors.New("delta: old and new lengths differ")
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
	Page PageID
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
	ExpectEpoch Epoch

	// Set by the commit path.
	LSN   LSN   // the delta's log sequence number
	Epoch Epoch // the page's epoch after this delta
	Time  int64 // commit time, ns since the Unix epoch (injectable clock)
}

// Validate checks d structurally and against a page of pageSize bytes.
// It never allocates when d is valid (building an error may allocate).
//
// FormRuns: at least one run; no run may have empty Data (a delta whose runs
// are all empty is ErrEmpty, a single empty run among others ErrMalformed);
// every run must end within the page and within the 2^32 positions a uint32
// offset can name (checked in 64-bit arithmetic so that Offset+len cannot
// wrap).
//
// Masked forms: MaskLen must be non-zero and at most pageSize (strict: a mask
// that merely covers positions past the page end is ErrOutOfRange even when
// those bits are clear, because such a delta was built for a different page
// size); Mask must hold at least ceil(MaskLen/8) bytes; at least one of the
// first MaskLen bits must be set; the payload must have MaskLen bytes (dense)
// or one byte per set bit (sparse). Mask bits at positions >= MaskLen are
// ignored, as are mask bytes past ceil(MaskLen/8).
func Validate(d *Delta, pageSize int) error {
	ps := uint64(max(pageSize, 0))
	switch d.Form {
	case FormRuns:
		return validateRuns(d, ps)
	case FormMaskedDense, FormMaskedSparse:
		return validateMasked(d, ps)
	}
	return errUnknownForm(d)
}

func validateRuns(d *Delta, ps uint64) error {
	if len(d.Runs) == 0 {
		return fmt.Errorf("%w: page %d: no runs", ErrEmpty, d.Page)
	}
	// Positions past 2^32 fit no page the bus holds, and Ranges, Normalize,
	// Merge and the conversions cannot name them (offsets are uint32).
	ps = min(ps, addrSpace)
	firstEmpty := -1
	for i := range d.Runs {
		r := &d.Runs[i]
		if len(r.Data) == 0 {
			if firstEmpty < 0 {
				firstEmpty = i
			}
			continue
		}
		if uint64(r.Offset)+uint64(len(r.Data)) > ps {
			return errRunPastPage(d, i, ps)
		}
	}
	if firstEmpty >= 0 {
		// An all-empty delta is reported as empty rather than malformed:
		// the more useful diagnosis is "this writes nothing".
		for i := range d.Runs {
			if len(d.Runs[i].Data) != 0 {
				return fmt.Errorf("%w: page %d: run %d at offset %d has no data",
					ErrMalformed, d.Page, firstEmpty, d.Runs[firstEmpty].Offset)
			}
		}
		return fmt.Errorf("%w: page %d: all %d runs have no data", ErrEmpty, d.Page, len(d.Runs))
	}
	return nil
}

func validateMasked(d *Delta, ps uint64) error {
	if d.MaskLen == 0 {
		return fmt.Errorf("%w: page %d: mask length 0", ErrEmpty, d.Page)
	}
	if maskShort(d) {
		return errMaskShort(d)
	}
	if uint64(d.MaskLen) > ps {
		return errMaskPastPage(d, ps)
	}
	set := popcount(d.Mask, d.MaskLen)
	if set == 0 {
		return fmt.Errorf("%w: page %d: mask of %d positions has no bit set", ErrEmpty, d.Page, d.MaskLen)
	}
	return checkPayload(d, set)
}

// checkPayload checks a masked delta's payload length against its mask:
// MaskLen bytes (dense) or set bytes, one per set bit (sparse). Validate
// and Apply share it, so they agree on the sentinel and on refusing a
// payload longer than the mask needs as well as a shorter one.
func checkPayload(d *Delta, set uint64) error {
	if d.Form == FormMaskedDense {
		if uint64(len(d.Payload)) != uint64(d.MaskLen) {
			return fmt.Errorf("%w: page %d: dense payload has %d bytes, MaskLen is %d",
				ErrSizeMismatch, d.Page, len(d.Payload), d.MaskLen)
		}
		return nil
	}
	if uint64(len(d.Payload)) != set {
		return fmt.Errorf("%w: page %d: sparse payload has %d bytes, mask sets %d bits",
			ErrSizeMismatch, d.Page, len(d.Payload), set)
	}
	return nil
}

// maskShort reports whether Mask holds fewer than MaskLen bits.
func maskShort(d *Delta) bool { return uint64(len(d.Mask)) < maskBytes(d.MaskLen) }

// The errors below are built out of line so that Validate and Apply word
// them alike and their fast paths stay small.

func errUnknownForm(d *Delta) error {
	return fmt.Errorf("%w: page %d: unknown form %d", ErrMalformed, d.Page, d.Form)
}

func errRunPastPage(d *Delta, i int, ps uint64) error {
	r := &d.Runs[i]
	return fmt.Errorf("%w: page %d: run %d [%d,%d) exceeds page size %d",
		ErrOutOfRange, d.Page, i, r.Offset, uint64(r.Offset)+uint64(len(r.Data)), ps)
}

func errMaskShort(d *Delta) error {
	return fmt.Errorf("%w: page %d: mask has %d bytes, MaskLen %d needs %d",
		ErrSizeMismatch, d.Page, len(d.Mask), d.MaskLen, maskBytes(d.MaskLen))
}

func errMaskPastPage(d *Delta, ps uint64) error {
	return fmt.Errorf("%w: page %d: mask length %d exceeds page size %d",
		ErrOutOfRange, d.Page, d.MaskLen, ps)
}

// ApplyRun writes one run into page, as Apply writes each run of a
// FormRuns delta. A run that does not lie within page is refused with
// ErrOutOfRange and changes nothing.
func ApplyRun(r *Run, page []byte) error {
	n := len(r.Data)
	if uint64(r.Offset)+uint64(n) > uint64(len(page)) {
		return ErrOutOfRange
	}
	dst := page[r.Offset : int(r.Offset)+n]
	// Runs of 8 to 16 bytes (one or two f64s, the common delta) are moved
	// with two unaligned words written out here rather than by copy: copy
	// calls runtime.memmove, and a call whose store misses the cache (a
	// delta to a random page) keeps the CPU from overlapping it with the
	// next delta's work. That made commits of 16-byte deltas 5-6 % faster
	// (docs/benchmarks.md). Both loads precede the stores, as in memmove;
	// TestApplyWordRunsMatchCopy checks it against copy.
	if n >= 8 && n <= 16 {
		lo, hi := binary.LittleEndian.Uint64(r.Data), binary.LittleEndian.Uint64(r.Data[n-8:])
		binary.LittleEndian.PutUint64(dst, lo)
		binary.LittleEndian.PutUint64(dst[n-8:], hi)
		return nil
	}
	copy(dst, r.Data)
	return nil
}

// Apply writes d into page and returns nil, or returns an error and writes
// nothing: every check precedes the first write. It never allocates when
// it succeeds and never panics, whatever d holds.
//
// A delta Validate accepts for len(page) always applies. Apply refuses,
// with Validate's sentinels and wording, every delta that does not fit:
// a run ending past the page (ErrOutOfRange; an empty run counts as ending
// at its offset), MaskLen past the page (ErrOutOfRange, even when the bits
// past it are clear, as in Validate), a mask shorter than MaskLen bits, a
// dense payload of other than MaskLen bytes or a sparse one of other than
// one byte per set bit (ErrSizeMismatch), an unknown form (ErrMalformed).
// It does not refuse a delta for writing nothing (Validate's ErrEmpty, and
// its ErrMalformed for an empty run among others): that applies as the
// nothing it writes. FormRuns runs are applied in slice order, so a later
// run wins where runs overlap.
//
// The checks cost O(runs) for FormRuns (nothing beyond ApplyRun's own for
// the common one-run delta) and one popcount pass over the mask for
// FormMaskedSparse; Validate does more.
func Apply(d *Delta, page []byte) error {
	switch d.Form {
	case FormRuns:
		if len(d.Runs) == 1 {
			// The common delta: ApplyRun checks the run before writing.
			if ApplyRun(&d.Runs[0], page) != nil {
				return errRunPastPage(d, 0, uint64(len(page)))
			}
			return nil
		}
		for i := range d.Runs {
			r := &d.Runs[i]
			if uint64(r.Offset)+uint64(len(r.Data)) > uint64(len(page)) {
				return errRunPastPage(d, i, uint64(len(page)))
			}
		}
		for i := range d.Runs {
			_ = ApplyRun(&d.Runs[i], page) // every run was checked to fit above
		}
		return nil
	case FormMaskedDense, FormMaskedSparse:
		if maskShort(d) {
			return errMaskShort(d)
		}
		if uint64(d.MaskLen) > uint64(len(page)) {
			return errMaskPastPage(d, uint64(len(page)))
		}
		var set uint64
		if d.Form == FormMaskedSparse {
			set = popcount(d.Mask, d.MaskLen)
		}
		if err := checkPayload(d, set); err != nil {
			return err
		}
		applyMasked(d, page)
		return nil
	}
	return errUnknownForm(d)
}

// applyMasked writes a masked delta whose mask, MaskLen and payload Apply
// has checked: every set bit lies within page and has its payload byte.
func applyMasked(d *Delta, page []byte) {
	it := bitRuns{mask: d.Mask, maskLen: d.MaskLen}
	if d.Form == FormMaskedDense {
		for {
			off, n, ok := it.next()
			if !ok {
				return
			}
			copy(page[off:off+n], d.Payload[off:off+n])
		}
	}
	p := uint32(0)
	for {
		off, n, ok := it.next()
		if !ok {
			return
		}
		copy(page[off:off+n], d.Payload[p:p+n])
		p += n
	}
}

// Ranges calls fn for each maximal contiguous byte range d writes, in
// ascending offset order, without allocating for FormRuns deltas whose runs
// are sorted and non-overlapping (other shapes may allocate).
// Masked forms never allocate. Adjacent ranges are reported as one.
//
// It is defined for any d, valid or not: masked forms report the set bits
// among the first MaskLen that Mask holds (whatever the payload); bytes of
// a run at positions 2^32 and beyond, which no uint32 offset can name, are
// left out (so off+n never exceeds 2^32); an unknown form writes nothing.
func Ranges(d *Delta, fn func(off, n uint32)) {
	var c coalescer
	switch d.Form {
	case FormRuns:
		if runsSorted(d.Runs) {
			for i := range d.Runs {
				if s := runSeg(&d.Runs[i]); len(s.data) > 0 {
					c.add(s.off, uint32(len(s.data)), fn)
				}
			}
			break
		}
		// Overlapping or unsorted runs: resolve them into sorted,
		// disjoint pieces first. Which run wins does not matter for the
		// ranges, but resolving reuses Normalize's tested code.
		var stack [16]seg
		for _, s := range resolveRuns(d.Runs, stack[:0]) {
			c.add(s.off, uint32(len(s.data)), fn)
		}
	case FormMaskedDense, FormMaskedSparse:
		it := bitRuns{mask: d.Mask, maskLen: d.MaskLen}
		for {
			off, n, ok := it.next()
			if !ok {
				break
			}
			c.add(off, n, fn)
		}
	}
	c.flush(fn)
}

// coalescer joins adjacent ranges reported in ascending order so that
// callers see maximal ranges. Sums are taken in 64 bits: a range ending at
// 2^32 must not look adjacent to one at offset 0, and a length that would
// not fit uint32 is reported in two pieces.
type coalescer struct {
	off, n uint32
	have   bool
}

func (c *coalescer) add(off, n uint32, fn func(off, n uint32)) {
	if c.have && uint64(c.off)+uint64(c.n) == uint64(off) && uint64(c.n)+uint64(n) <= 1<<32-1 {
		c.n += n
		return
	}
	c.flush(fn)
	c.off, c.n, c.have = off, n, true
}

func (c *coalescer) flush(fn func(off, n uint32)) {
	if c.have {
		fn(c.off, c.n)
		c.have = false
	}
}

// WrittenBytes returns the number of distinct page bytes d writes: the
// total length of the ranges Ranges reports (for masked forms, the set bits
// among the first MaskLen that Mask holds), defined for any d.
func WrittenBytes(d *Delta) int {
	switch d.Form {
	case FormMaskedDense, FormMaskedSparse:
		return int(popcount(d.Mask, d.MaskLen))
	}
	total := 0
	Ranges(d, func(_, n uint32) { total += int(n) })
	return total
}
