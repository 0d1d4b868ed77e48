// Package record defines the payloads MMSB stores in its transaction log and
// checkpoints: a log record is one committed batch of operations (deltas,
// page creation/free, metadata, edges, bindings, flags, the end of a
// propagation wave), each operation taking one LSN; a checkpoint is a sequence of state, page, edge and
// binding records. The framing (length, CRC) belongs to internal/tlog and
// internal/checkpoint; this package only encodes what is inside.
//
// Encoders are append-style and allocation-free when dst has capacity;
// decoders never panic and alias their input.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
)

// FormatVersion is the version of the batch payload layout. It is the first
// byte of every log record payload that holds no OpWave.
const FormatVersion = 1

// WaveFormatVersion is the first byte of a payload that holds an OpWave
// (AppendWaveHeader). A binary that predates OpWave refuses such a record
// as an unknown payload version, rather than meeting an unknown operation
// in the middle of one; payloads without it keep FormatVersion, so that
// logs written before OpWave, and records of this version that hold none,
// read as before. A version 1 payload holding an OpWave is malformed.
const WaveFormatVersion = 2

// ErrMalformed means a payload could not be decoded.
var ErrMalformed = errors.New("record: malformed payload")

// OpKind says what a logged operation does.
type OpKind uint8

// Operation kinds.
const (
	OpDelta      OpKind = 1  // a delta written by a client
	OpCreatePage OpKind = 2  // page created
	OpFreePage   OpKind = 3  // page freed
	OpSetMeta    OpKind = 4  // page metadata replaced
	OpAddEdge    OpKind = 5  // dependency edge added
	OpRemoveEdge OpKind = 6  // dependency edge(s) removed
	OpBind       OpKind = 7  // derived page bound to a recompute function
	OpUnbind     OpKind = 8  // derived page binding removed
	OpSetFlags   OpKind = 9  // page flags (stale, sync-pending, IR-invalid) replaced
	OpDerived    OpKind = 10 // a delta produced by propagation, with the parent LSNs it read
	OpWave       OpKind = 11 // end of a propagation wave: the dirty and retry sets after it
)

// String names the op kind.
func (k OpKind) String() string {
	switch k {
	case OpDelta:
		return "delta"
	case OpCreatePage:
		return "create"
	case OpFreePage:
		return "free"
	case OpSetMeta:
		return "meta"
	case OpAddEdge:
		return "add-edge"
	case OpRemoveEdge:
		return "remove-edge"
	case OpBind:
		return "bind"
	case OpUnbind:
		return "unbind"
	case OpSetFlags:
		return "flags"
	case OpDerived:
		return "derived"
	case OpWave:
		return "wave"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// AllEdgeTypes in an OpRemoveEdge means "every type".
const AllEdgeTypes = 0xFF

// ParentRead records that a propagation read a parent page at an LSN.
type ParentRead struct {
	Page base.PageID
	LSN  base.LSN // the parent's last-write LSN when it was read
}

// Op is one decoded operation. Which fields are meaningful depends on Kind.
// Slices alias the decoded payload.
type Op struct {
	Kind OpKind

	Delta delta.Delta // OpDelta, OpDerived

	Page     base.PageID   // create, free, meta, unbind, flags; bind: the child
	Size     uint32        // create
	Location base.Location // create
	Meta     []byte        // create, meta: encoded metadata (page.AppendMeta format)
	Flags    uint8         // flags

	Parent, Child base.PageID // add-edge, remove-edge
	EdgeType      uint8       // add-edge, remove-edge (AllEdgeTypes = all)

	Func    string        // bind: recompute function name
	Params  []byte        // bind
	Parents []base.PageID // bind: ordered parents (the first Decoder.MaxParents of them, when set)

	Reads []ParentRead // OpDerived

	// OpWave: the pages still dirty after the wave (written while it
	// computed, after its snapshot) and the derived pages it held back
	// (the retry set), each strictly ascending.
	Dirty, Held []base.PageID
}

// AppendHeader starts a batch payload: version byte and commit time.
func AppendHeader(dst []byte, timeNanos int64) []byte {
	dst = append(dst, FormatVersion)
	return binary.AppendVarint(dst, timeNanos)
}

// AppendWaveHeader starts a batch payload that will hold an OpWave: as
// AppendHeader, with WaveFormatVersion.
func AppendWaveHeader(dst []byte, timeNanos int64) []byte {
	dst = append(dst, WaveFormatVersion)
	return binary.AppendVarint(dst, timeNanos)
}

// AppendWave appends an OpWave: the dirty set after the wave and the pages
// it held back, each strictly ascending (possibly empty), as a page set:
// uvarint count, then the first ID and the gaps from each ID to the next
// (at least 1). The payload must start with AppendWaveHeader.
func AppendWave(dst []byte, dirty, held []base.PageID) []byte {
	dst = append(dst, byte(OpWave))
	dst = appendSet(dst, dirty)
	return appendSet(dst, held)
}

// appendSet encodes a strictly ascending page set (AppendPending's
// encoding, but possibly empty).
func appendSet(dst []byte, ids []base.PageID) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ids)))
	for i, id := range ids {
		if i == 0 {
			dst = binary.AppendUvarint(dst, uint64(id))
		} else {
			dst = binary.AppendUvarint(dst, uint64(id-ids[i-1]))
		}
	}
	return dst
}

// AppendDelta appends an OpDelta.
func AppendDelta(dst []byte, d *delta.Delta) []byte {
	dst = append(dst, byte(OpDelta))
	return delta.AppendEncode(dst, d)
}

// AppendDerived appends an OpDerived: the parents read, then the delta.
func AppendDerived(dst []byte, reads []ParentRead, d *delta.Delta) []byte {
	dst = append(dst, byte(OpDerived))
	dst = binary.AppendUvarint(dst, uint64(len(reads)))
	for _, r := range reads {
		dst = binary.AppendUvarint(dst, uint64(r.Page))
		dst = binary.AppendUvarint(dst, uint64(r.LSN))
	}
	return delta.AppendEncode(dst, d)
}

// AppendCreate appends an OpCreatePage.
func AppendCreate(dst []byte, id base.PageID, size uint32, loc base.Location, meta []byte) []byte {
	dst = append(dst, byte(OpCreatePage))
	dst = binary.AppendUvarint(dst, uint64(id))
	dst = binary.AppendUvarint(dst, uint64(size))
	dst = append(dst, byte(loc))
	return appendBytes(dst, meta)
}

// AppendFree appends an OpFreePage.
func AppendFree(dst []byte, id base.PageID) []byte {
	dst = append(dst, byte(OpFreePage))
	return binary.AppendUvarint(dst, uint64(id))
}

// AppendSetMeta appends an OpSetMeta.
func AppendSetMeta(dst []byte, id base.PageID, meta []byte) []byte {
	dst = append(dst, byte(OpSetMeta))
	dst = binary.AppendUvarint(dst, uint64(id))
	return appendBytes(dst, meta)
}

// AppendEdge appends an OpAddEdge or OpRemoveEdge.
func AppendEdge(dst []byte, kind OpKind, parent, child base.PageID, typ uint8) []byte {
	dst = append(dst, byte(kind))
	dst = binary.AppendUvarint(dst, uint64(parent))
	dst = binary.AppendUvarint(dst, uint64(child))
	return append(dst, typ)
}

// AppendBind appends an OpBind.
func AppendBind(dst []byte, child base.PageID, fn string, params []byte, parents []base.PageID) []byte {
	dst = append(dst, byte(OpBind))
	dst = binary.AppendUvarint(dst, uint64(child))
	dst = binary.AppendUvarint(dst, uint64(len(fn)))
	dst = append(dst, fn...)
	dst = appendBytes(dst, params)
	dst = binary.AppendUvarint(dst, uint64(len(parents)))
	for _, p := range parents {
		dst = binary.AppendUvarint(dst, uint64(p))
	}
	return dst
}

// AppendUnbind appends an OpUnbind.
func AppendUnbind(dst []byte, child base.PageID) []byte {
	dst = append(dst, byte(OpUnbind))
	return binary.AppendUvarint(dst, uint64(child))
}

// AppendFlags appends an OpSetFlags.
func AppendFlags(dst []byte, id base.PageID, flags uint8) []byte {
	dst = append(dst, byte(OpSetFlags))
	dst = binary.AppendUvarint(dst, uint64(id))
	return append(dst, flags)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// Decoder walks the operations of one batch payload.
type Decoder struct {
	src     []byte
	off     int
	payload []byte // what Reset started: Window may widen src again up to it
	Time    int64  // commit time from the header
	version byte   // the payload's version byte

	// MaxParents, when positive, is the most parents of a Bind that Next
	// keeps in Op.Parents: the rest are read past and checked, as Skim
	// does, and BindParents counts them all. A reader that shows a
	// Bind's first parents only (the inspector's log view) decoded all of
	// them, 512 KiB for a Bind of 2^16.
	MaxParents int
	// BindParents is the count of parents of the last Bind that Next or
	// Skim decoded, all of them, however many Op.Parents holds.
	BindParents int
}

// Reset starts decoding payload. It checks the version byte and reads the
// commit time.
func (d *Decoder) Reset(payload []byte) error {
	d.src, d.off, d.payload = payload, 0, payload
	if len(payload) < 1 {
		return fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	if payload[0] != FormatVersion && payload[0] != WaveFormatVersion {
		return fmt.Errorf("%w: unknown payload version %d", ErrMalformed, payload[0])
	}
	d.version = payload[0]
	d.off = 1
	t, n := binary.Varint(payload[1:])
	if n <= 0 {
		return fmt.Errorf("%w: bad commit time", ErrMalformed)
	}
	d.Time = t
	d.off += n
	return nil
}

// Window restricts the decoding to the operations in payload[from:to]
// of the payload Reset started: from and to must be operation boundaries
// (offsets the encoder recorded, or Offset). A pipelined apply decodes a
// batch's record in parts this way.
func (d *Decoder) Window(from, to int) {
	to = min(max(to, 0), len(d.payload))
	d.src, d.off = d.payload[:to], min(max(from, 0), to)
}

// More reports whether operations remain.
func (d *Decoder) More() bool { return d.off < len(d.src) }

// Offset returns the current offset in the payload.
func (d *Decoder) Offset() int { return d.off }

// Next decodes the next operation into op (reusing op's slices). It never
// panics; bad input returns ErrMalformed (wrapped) naming the offset.
func (d *Decoder) Next(op *Op) error { return d.next(op, true) }

// Skim decodes the next operation into op as Next does, checking it the
// same way, but leaves its lists empty (a Bind's parents, a derived
// write's parent reads, a wave's page sets): it reads past them without
// copying them. A reader that picks operations by kind or page skims
// each, and decodes only those it keeps with Rewind and Next: a log query
// for one page's writes copied the 2^16 parents of every Bind, and the
// 2^16 reads of every derived write of another page, it passed by.
func (d *Decoder) Skim(op *Op) error { return d.next(op, false) }

// Rewind moves back to off, an operation boundary of the payload
// (Offset before a Skim or Next), so that the operation there is
// decoded again.
func (d *Decoder) Rewind(off int) { d.off = min(max(off, 0), len(d.src)) }

func (d *Decoder) next(op *Op, lists bool) error {
	start := d.off
	if d.off >= len(d.src) {
		return fmt.Errorf("%w: no operation at offset %d", ErrMalformed, start)
	}
	op.Kind = OpKind(d.src[d.off])
	d.off++
	var err error
	switch op.Kind {
	case OpDelta:
		err = d.delta(&op.Delta)
	case OpDerived:
		var n uint64
		n, err = d.uvarint()
		if err == nil && n > uint64(len(d.src)-d.off) {
			err = fmt.Errorf("%w: %d parent reads exceed payload", ErrMalformed, n)
		}
		op.Reads = op.Reads[:0]
		for i := uint64(0); err == nil && i < n; i++ {
			var p, l uint64
			if p, err = d.uvarint(); err == nil {
				l, err = d.uvarint()
			}
			if lists {
				op.Reads = append(op.Reads, ParentRead{Page: base.PageID(p), LSN: base.LSN(l)})
			}
		}
		if err == nil {
			err = d.delta(&op.Delta)
		}
	case OpCreatePage:
		var id, size uint64
		if id, err = d.uvarint(); err != nil {
			break
		}
		if size, err = d.uvarint(); err != nil {
			break
		}
		if size > base.MaxPageSize {
			err = fmt.Errorf("%w: page size %d too large", ErrMalformed, size)
			break
		}
		var loc byte
		if loc, err = d.byte(); err != nil {
			break
		}
		op.Page, op.Size, op.Location = base.PageID(id), uint32(size), base.Location(loc)
		op.Meta, err = d.bytes()
	case OpFreePage, OpUnbind:
		var id uint64
		id, err = d.uvarint()
		op.Page = base.PageID(id)
	case OpSetMeta:
		var id uint64
		if id, err = d.uvarint(); err == nil {
			op.Page = base.PageID(id)
			op.Meta, err = d.bytes()
		}
	case OpAddEdge, OpRemoveEdge:
		var p, c uint64
		if p, err = d.uvarint(); err != nil {
			break
		}
		if c, err = d.uvarint(); err != nil {
			break
		}
		op.Parent, op.Child = base.PageID(p), base.PageID(c)
		op.EdgeType, err = d.byte()
	case OpBind:
		var id uint64
		if id, err = d.uvarint(); err != nil {
			break
		}
		op.Page = base.PageID(id)
		var name []byte
		if name, err = d.bytes(); err != nil {
			break
		}
		op.Func = string(name)
		if op.Params, err = d.bytes(); err != nil {
			break
		}
		var n uint64
		if n, err = d.uvarint(); err != nil {
			break
		}
		if n > uint64(len(d.src)-d.off) {
			err = fmt.Errorf("%w: %d parents exceed payload", ErrMalformed, n)
			break
		}
		op.Parents, d.BindParents = op.Parents[:0], int(n) // n fits an int: at most the payload's length
		for i := uint64(0); err == nil && i < n; i++ {
			var p uint64
			p, err = d.uvarint()
			if lists && (d.MaxParents <= 0 || i < uint64(d.MaxParents)) {
				op.Parents = append(op.Parents, base.PageID(p))
			}
		}
	case OpSetFlags:
		var id uint64
		if id, err = d.uvarint(); err == nil {
			op.Page = base.PageID(id)
			op.Flags, err = d.byte()
		}
	case OpWave:
		if d.version != WaveFormatVersion {
			err = fmt.Errorf("%w: operation kind %d (wave) in a version %d payload (want version %d)", ErrMalformed, op.Kind, d.version, WaveFormatVersion)
			break
		}
		op.Page = 0 // about no one page (Next leaves other kinds' fields as they were)
		if op.Dirty, err = d.set(op.Dirty[:0], "dirty", lists); err == nil {
			op.Held, err = d.set(op.Held[:0], "held-back", lists)
		}
	default:
		err = fmt.Errorf("%w: unknown op kind %d", ErrMalformed, op.Kind)
	}
	if err != nil {
		// err says "record: " (ErrMalformed) or its own package's prefix
		// already: prefixed again, a checkpoint's edge record read
		// "record: op at payload offset 0: record: malformed payload".
		return fmt.Errorf("operation at payload offset %d: %w", start, err)
	}
	return nil
}

// NextRun decodes the next operation, fast, if it is a delta of the
// common shape (delta.DecodeOneRun): its page and its one run's offset
// and bytes (aliasing the payload). ok is false, and nothing is consumed,
// for any other operation or for input Next refuses; Next then decodes
// it, or says what is wrong.
func (d *Decoder) NextRun() (page base.PageID, off uint32, data []byte, ok bool) {
	if d.off >= len(d.src) || OpKind(d.src[d.off]) != OpDelta {
		return 0, 0, nil, false
	}
	page, off, data, n, ok := delta.DecodeOneRun(d.src[d.off+1:])
	if ok {
		d.off += 1 + n
	}
	return page, off, data, ok
}

// set decodes appendSet's encoding into dst (only checks it, when keep is
// false): a count the payload cannot hold, a gap of 0 and an ID past
// 2^64-1 are ErrMalformed.
func (d *Decoder) set(dst []base.PageID, what string, keep bool) ([]base.PageID, error) {
	n, err := d.uvarint()
	if err != nil {
		return dst, err
	}
	if n > uint64(len(d.src)-d.off) { // each ID takes at least a byte
		return dst, fmt.Errorf("%w: %s page set declares %d page IDs in %d bytes", ErrMalformed, what, n, len(d.src)-d.off)
	}
	var id uint64
	for i := uint64(0); i < n; i++ {
		v, err := d.uvarint()
		if err != nil {
			return dst, err
		}
		if i > 0 {
			if v == 0 || id+v < id {
				return dst, fmt.Errorf("%w: %s page set: gap %d after page ID %d (want 1 to %d)", ErrMalformed, what, v, id, ^uint64(0)-id)
			}
			v += id
		}
		id = v
		if keep {
			dst = append(dst, base.PageID(id))
		}
	}
	return dst, nil
}

func (d *Decoder) delta(dl *delta.Delta) error {
	n, err := delta.Decode(d.src[d.off:], dl)
	if err != nil {
		return err
	}
	d.off += n
	return nil
}

func (d *Decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.src[d.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint at offset %d", ErrMalformed, d.off)
	}
	d.off += n
	return v, nil
}

func (d *Decoder) byte() (byte, error) {
	if d.off >= len(d.src) {
		return 0, fmt.Errorf("%w: truncated at offset %d", ErrMalformed, d.off)
	}
	b := d.src[d.off]
	d.off++
	return b, nil
}

func (d *Decoder) bytes() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.src)-d.off) {
		return nil, fmt.Errorf("%w: length %d exceeds payload at offset %d", ErrMalformed, n, d.off)
	}
	b := d.src[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}
