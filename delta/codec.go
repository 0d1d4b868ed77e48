package delta

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// FormatVersion is the version of the delta encoding written by
// AppendEncode (see docs/delta.md). The encoding carries no version of its
// own: it is embedded in log records and checkpoints, whose headers carry
// it. Bump it on any change to the layout.
const FormatVersion = 1

// Header byte layout (the byte after the page ID).
const (
	hdrFormMask   = 0x03 // bits 0-1: Form
	hdrCheckEpoch = 0x04 // bit 2: CheckEpoch; ExpectEpoch follows at the end
	hdrSource     = 0x08 // bit 3: a Source field follows the body
	hdrIntent     = 0x10 // bit 4: an Intent field follows the Source
	hdrReserved   = 0xe0 // bits 5-7: must be zero
)

// Source labels with a one-byte code. Codes below sourceLiteral stand for
// these strings; a code c >= sourceLiteral is followed by c-sourceLiteral
// literal bytes. Decoding a code (or a literal spelling one of them) gives
// the interned string, so no allocation.
const (
	// SourceAPI labels deltas submitted through the public API.
	SourceAPI = "api"
	// SourcePropagation labels deltas produced by recompute functions.
	SourcePropagation = "propagation"
	// SourceBench labels deltas produced by benchmarks.
	SourceBench = "bench"
	// SourceReplay labels deltas re-applied by replay.
	SourceReplay = "replay"

	sourceLiteral = 8 // codes 4..7 are reserved
)

var wellKnownSources = [...]string{SourceAPI, SourcePropagation, SourceBench, SourceReplay}

func sourceCode(s string) (uint64, bool) {
	for i, w := range wellKnownSources {
		if s == w {
			return uint64(i), true
		}
	}
	return 0, false
}

// internSource returns a string for b, without allocating when b is one of
// the well-known labels.
func internSource(b []byte) string {
	switch string(b) { // the compiler does not allocate for this conversion
	case SourceAPI:
		return SourceAPI
	case SourcePropagation:
		return SourcePropagation
	case SourceBench:
		return SourceBench
	case SourceReplay:
		return SourceReplay
	}
	return string(b)
}

// AppendEncode appends d's binary encoding (page, form, runs or mask and
// payload, source, intent, check-epoch; see docs/delta.md) to dst. LSN,
// Epoch and Time are not encoded: the log record that holds the delta
// carries them; nor is ExpectEpoch without CheckEpoch, which gives it its
// meaning. It allocates only when dst must grow.
//
// Masked deltas are written with exactly ceil(MaskLen/8) mask bytes and the
// bits past MaskLen cleared, so equal deltas encode identically; a mask
// shorter than that (an invalid delta) is padded with zero bytes. A delta
// of an unknown Form is written with form bits 3, which Decode refuses
// with ErrMalformed, so no unknown form decodes as a known one.
func AppendEncode(dst []byte, d *Delta) []byte {
	if d.Form == FormRuns && len(d.Runs) == 1 && len(d.Intent) == 0 && !d.CheckEpoch {
		if d.Source == "" {
			return appendOneRun(dst, d, 0, -1)
		}
		if c, ok := sourceCode(d.Source); ok {
			return appendOneRun(dst, d, hdrSource, int(c))
		}
	}
	return appendEncodeFields(dst, d)
}

// oneRunMax is the most bytes appendOneRun writes besides the run's data:
// the page ID, header, run count, offset, length and source code.
const oneRunMax = binary.MaxVarintLen64 + 1 + 1 + binary.MaxVarintLen32 + binary.MaxVarintLen64 + 1

// appendOneRun is AppendEncode for the common delta: one run, no intent,
// no epoch check, no source or a well-known one (code src, -1 for none).
// It writes the bytes appendEncodeFields writes (TestEncodeOneRunMatchesFields)
// behind one capacity check instead of one per field: encoding was a third
// of a commit's check on the two-worker pipeline.
func appendOneRun(dst []byte, d *Delta, hdr byte, src int) []byte {
	r := &d.Runs[0]
	n := len(r.Data)
	pos := len(dst)
	dst = slices.Grow(dst, oneRunMax+n)
	b := dst[pos : pos+oneRunMax+n]
	i := binary.PutUvarint(b, uint64(d.Page))
	b[i] = hdr // FormRuns is 0
	b[i+1] = 1 // one run
	i += 2
	i += binary.PutUvarint(b[i:], uint64(r.Offset))
	i += binary.PutUvarint(b[i:], uint64(n))
	// The run's bytes as ApplyRun moves them: two words for 8 to 16.
	_ = ApplyRun(&Run{Offset: uint32(i), Data: r.Data}, b) // b holds oneRunMax+n bytes
	i += n
	if src >= 0 {
		b[i] = byte(src)
		i++
	}
	return dst[:pos+i]
}

// appendEncodeFields is AppendEncode for any delta, field by field.
func appendEncodeFields(dst []byte, d *Delta) []byte {
	hdr := byte(d.Form)
	if d.Form > FormMaskedSparse {
		// Every unknown form gets the form bits no known form has, so
		// Decode refuses it. Keeping its low two bits instead made Form 4
		// decode as a runs delta writing its Runs, and 5 and 6 as masked
		// ones, where the delta encoded writes nothing.
		hdr = hdrFormMask
	}
	if d.CheckEpoch {
		hdr |= hdrCheckEpoch
	}
	if d.Source != "" {
		hdr |= hdrSource
	}
	if len(d.Intent) != 0 {
		hdr |= hdrIntent
	}
	dst = binary.AppendUvarint(dst, uint64(d.Page))
	dst = append(dst, hdr)
	switch d.Form {
	case FormMaskedDense, FormMaskedSparse:
		dst = binary.AppendUvarint(dst, uint64(d.MaskLen))
		nb := int(maskBytes(d.MaskLen))
		have := min(nb, len(d.Mask))
		dst = append(dst, d.Mask[:have]...)
		for range nb - have {
			dst = append(dst, 0)
		}
		if r := d.MaskLen % 8; r != 0 && nb > 0 {
			dst[len(dst)-1] &= byte(1)<<r - 1
		}
		dst = binary.AppendUvarint(dst, uint64(len(d.Payload)))
		dst = append(dst, d.Payload...)
	default:
		// FormRuns, and any unknown form (encoded as runs with form bits
		// 3, so Decode reports it as malformed rather than guessing).
		dst = binary.AppendUvarint(dst, uint64(len(d.Runs)))
		for i := range d.Runs {
			r := &d.Runs[i]
			dst = binary.AppendUvarint(dst, uint64(r.Offset))
			dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
			dst = append(dst, r.Data...)
		}
	}
	if d.Source != "" {
		if c, ok := sourceCode(d.Source); ok {
			dst = append(dst, byte(c))
		} else {
			dst = binary.AppendUvarint(dst, sourceLiteral+uint64(len(d.Source)))
			dst = append(dst, d.Source...)
		}
	}
	if len(d.Intent) != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(d.Intent)))
		dst = append(dst, d.Intent...)
	}
	if d.CheckEpoch {
		dst = binary.AppendUvarint(dst, uint64(d.ExpectEpoch))
	}
	return dst
}

// decoder reads from src, recording the first error. Every length is
// checked against what remains before slicing, so no input can make it
// panic or allocate more than the input's size justifies.
type decoder struct {
	src []byte
	pos int
	err error
}

func (r *decoder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// uvarint reads a varint. The one-byte case (most pages, offsets and
// lengths) is kept small enough to inline. Reads after an error are
// harmless: only the first error is kept and Decode then fails.
func (r *decoder) uvarint(what string) uint64 {
	if p := r.pos; uint(p) < uint(len(r.src)) {
		if b := r.src[p]; b < 0x80 {
			r.pos = p + 1
			return uint64(b)
		}
	}
	return r.uvarintSlow(what)
}

func (r *decoder) uvarintSlow(what string) uint64 {
	v, n := binary.Uvarint(r.src[r.pos:])
	if n <= 0 {
		r.fail("bad %s varint at offset %d", what, r.pos)
		return 0
	}
	r.pos += n
	return v
}

func (r *decoder) u32(what string) uint32 {
	v := r.uvarint(what)
	if v > 1<<32-1 {
		r.fail("%s %d at offset %d overflows 32 bits", what, v, r.pos)
		return 0
	}
	return uint32(v)
}

// bytes returns the next n bytes, capacity-limited so that appending to the
// result cannot overwrite src.
func (r *decoder) bytes(n uint64, what string) []byte {
	if p := r.pos; n <= uint64(len(r.src)-p) {
		end := p + int(n)
		r.pos = end
		return r.src[p:end:end]
	}
	return r.bytesSlow(n, what)
}

func (r *decoder) bytesSlow(n uint64, what string) []byte {
	r.fail("%s of %d bytes at offset %d overruns input (%d left)", what, n, r.pos, len(r.src)-r.pos)
	return nil
}

// DecodeOneRun decodes, fast, the delta at the start of src if it has
// the common shape that AppendEncode's fast path writes: one run, no
// intent, no epoch check, no source or a well-known one. It returns the
// page, the run's offset and bytes (aliasing src) and the bytes consumed.
// ok is false for any other delta, and for input Decode refuses: Decode
// then reads it, or says what is wrong. A delta DecodeOneRun accepts,
// Decode decodes to the same page and run.
func DecodeOneRun(src []byte) (page PageID, off uint32, data []byte, n int, ok bool) {
	id, i := binary.Uvarint(src)
	// The header (runs, with at most a source) and a run count of one.
	if i <= 0 || len(src)-i < 2 || src[i]&^hdrSource != 0 || src[i+1] != 1 {
		return 0, 0, nil, 0, false
	}
	hdr := src[i]
	i += 2
	o, k := binary.Uvarint(src[i:])
	if k <= 0 || o > 1<<32-1 {
		return 0, 0, nil, 0, false
	}
	i += k
	l, k := binary.Uvarint(src[i:])
	if k <= 0 || l > uint64(len(src)-i-k) {
		return 0, 0, nil, 0, false
	}
	i += k
	end := i + int(l)
	if hdr&hdrSource != 0 {
		// A well-known source is one byte below the count of them.
		if end >= len(src) || src[end] >= byte(len(wellKnownSources)) {
			return 0, 0, nil, 0, false
		}
		return PageID(id), uint32(o), src[i:end:end], end + 1, true
	}
	return PageID(id), uint32(o), src[i:end:end], end, true
}

// Decode decodes one delta from src into d, reusing d.Runs' capacity, with
// Data, Mask, Payload and Intent aliasing src (Source is a string copy only
// when non-empty and not one of the well-known labels, which are interned).
// It returns the number of bytes consumed. It never panics; bad input gives
// ErrMalformed (wrapped). Every field of d is overwritten (LSN, Epoch and
// Time are zeroed); on error d's contents are unspecified.
//
// Decode checks structure only (known form, lengths within the input,
// canonical mask tail); page bounds and payload/mask agreement are
// Validate's job, since only the bus knows the page size.
func Decode(src []byte, d *Delta) (int, error) {
	r := decoder{src: src}
	runs := d.Runs[:0]
	*d = Delta{}
	d.Page = PageID(r.uvarint("page"))
	if r.err == nil && r.pos >= len(src) {
		r.fail("missing header byte at offset %d", r.pos)
	}
	if r.err != nil {
		return 0, r.err
	}
	hdr := src[r.pos]
	r.pos++
	if hdr&hdrReserved != 0 {
		return 0, fmt.Errorf("%w: reserved header bits set (0x%02x)", ErrMalformed, hdr)
	}
	d.Form = Form(hdr & hdrFormMask)
	switch d.Form {
	case FormRuns:
		nruns := r.uvarint("run count")
		// Each run takes at least two bytes (offset and length varints), so
		// a count beyond half the remaining input is a lie; refusing it
		// bounds the allocation below by the input size.
		if r.err == nil && nruns > uint64(len(src)-r.pos)/2 {
			r.fail("run count %d exceeds what %d remaining bytes can hold", nruns, len(src)-r.pos)
		}
		if r.err != nil {
			return 0, r.err
		}
		if uint64(cap(runs)) < nruns {
			runs = make([]Run, 0, nruns)
		}
		for i := uint64(0); i < nruns && r.err == nil; i++ {
			off := r.u32("run offset")
			n := r.uvarint("run length")
			runs = append(runs, Run{Offset: off, Data: r.bytes(n, "run data")})
		}
		d.Runs = runs
	case FormMaskedDense, FormMaskedSparse:
		d.Runs = runs
		d.MaskLen = r.u32("mask length")
		d.Mask = r.bytes(maskBytes(d.MaskLen), "mask")
		if r.err == nil {
			if rem := d.MaskLen % 8; rem != 0 && d.Mask[len(d.Mask)-1]>>rem != 0 {
				r.fail("mask has bits set past mask length %d", d.MaskLen)
			}
		}
		d.Payload = r.bytes(r.uvarint("payload length"), "payload")
	default:
		return 0, fmt.Errorf("%w: unknown form %d", ErrMalformed, d.Form)
	}
	if hdr&hdrSource != 0 {
		c := r.uvarint("source")
		switch {
		case r.err != nil:
		case c < uint64(len(wellKnownSources)):
			d.Source = wellKnownSources[c]
		case c < sourceLiteral:
			r.fail("reserved source code %d", c)
		default:
			b := r.bytes(c-sourceLiteral, "source")
			if r.err == nil && len(b) == 0 {
				r.fail("empty source literal with source flag set")
			}
			d.Source = internSource(b)
		}
	}
	if hdr&hdrIntent != 0 {
		d.Intent = r.bytes(r.uvarint("intent length"), "intent")
		if r.err == nil && len(d.Intent) == 0 {
			r.fail("empty intent with intent flag set")
		}
	}
	if hdr&hdrCheckEpoch != 0 {
		d.CheckEpoch = true
		d.ExpectEpoch = Epoch(r.uvarint("expected epoch"))
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.pos, nil
}
