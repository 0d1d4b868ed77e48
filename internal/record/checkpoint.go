package record

import (
	"encoding/binary"
	"fmt"

	"github.com/mmsb-go/mmsb/internal/base"
)

// Checkpoint record kinds (the kind byte of each checkpoint frame).
const (
	CkptState   uint8 = 1 // bus counters; always the first record
	CkptPage    uint8 = 2 // one page: header fields then raw bytes
	CkptEdge    uint8 = 3 // one dependency edge
	CkptBinding uint8 = 4 // one derived-page binding (an OpBind body)
)

// State is the bus-wide part of a checkpoint.
type State struct {
	LastLSN  base.LSN
	NextID   base.PageID // next auto-assigned page ID
	LastTime int64       // commit time of the last logged batch
	Pages    uint64      // number of page records that follow
	Edges    uint64
	Bindings uint64
}

// AppendState encodes a State.
func AppendState(dst []byte, s *State) []byte {
	dst = append(dst, FormatVersion)
	dst = binary.AppendUvarint(dst, uint64(s.LastLSN))
	dst = binary.AppendUvarint(dst, uint64(s.NextID))
	dst = binary.AppendVarint(dst, s.LastTime)
	dst = binary.AppendUvarint(dst, s.Pages)
	dst = binary.AppendUvarint(dst, s.Edges)
	return binary.AppendUvarint(dst, s.Bindings)
}

// DecodeState decodes AppendState's encoding.
func DecodeState(src []byte) (State, error) {
	var s State
	if len(src) < 1 || src[0] != FormatVersion {
		return s, fmt.Errorf("%w: bad checkpoint state version", ErrMalformed)
	}
	d := Decoder{src: src, off: 1}
	var v [6]uint64
	for i := range v {
		if i == 2 {
			t, n := binary.Varint(src[d.off:])
			if n <= 0 {
				return s, fmt.Errorf("%w: bad checkpoint state time", ErrMalformed)
			}
			d.off += n
			s.LastTime = t
			continue
		}
		x, err := d.uvarint()
		if err != nil {
			return s, err
		}
		v[i] = x
	}
	// Exactly one encoding per state, as every other record: trailing
	// bytes were accepted, so a file a bus never writes loaded.
	if d.off != len(src) {
		return s, fmt.Errorf("%w: %d bytes after the checkpoint state", ErrMalformed, len(src)-d.off)
	}
	s.LastLSN, s.NextID, s.Pages, s.Edges, s.Bindings = base.LSN(v[0]), base.PageID(v[1]), v[3], v[4], v[5]
	return s, nil
}

// PageImage is one page in a checkpoint.
type PageImage struct {
	ID       base.PageID
	Size     uint32
	Location base.Location
	Epoch    base.Epoch
	LastLSN  base.LSN
	Flags    uint8
	Meta     []byte
	Data     []byte // exactly Size bytes

	scratch []byte // DecodePage's expansion buffer, reused
}

// AppendPage encodes a PageImage.
func AppendPage(dst []byte, p *PageImage) []byte {
	dst = binary.AppendUvarint(dst, uint64(p.ID))
	dst = binary.AppendUvarint(dst, uint64(p.Size))
	dst = append(dst, byte(p.Location), p.Flags)
	dst = binary.AppendUvarint(dst, uint64(p.Epoch))
	dst = binary.AppendUvarint(dst, uint64(p.LastLSN))
	dst = appendBytes(dst, p.Meta)
	// Zero trimming: only the bytes between the first and the last non-zero
	// byte are stored. Cheap (a random page stops both scans at once) and it
	// makes never-written and partly written pages cost what they hold.
	lead, end := nonZeroSpan(p.Data)
	dst = binary.AppendUvarint(dst, uint64(lead))
	dst = binary.AppendUvarint(dst, uint64(end-lead))
	return append(dst, p.Data[lead:end]...)
}

// nonZeroSpan returns the span [lead, end) of b outside which every byte is
// zero (lead == end when b is all zeros). It skips zeros eight bytes at a
// time: a checkpoint scans every page, most of them mostly zero.
func nonZeroSpan(b []byte) (lead, end int) {
	for lead+8 <= len(b) && binary.LittleEndian.Uint64(b[lead:]) == 0 {
		lead += 8
	}
	for lead < len(b) && b[lead] == 0 {
		lead++
	}
	end = len(b)
	for end-8 >= lead && binary.LittleEndian.Uint64(b[end-8:]) == 0 {
		end -= 8
	}
	for end > lead && b[end-1] == 0 {
		end--
	}
	return lead, end
}

// DecodePage decodes AppendPage's encoding; slices alias src.
func DecodePage(src []byte, p *PageImage) error {
	d := Decoder{src: src}
	var id, size, epoch, lsn uint64
	var err error
	if id, err = d.uvarint(); err != nil {
		return err
	}
	if size, err = d.uvarint(); err != nil {
		return err
	}
	if size == 0 || size > base.MaxPageSize {
		return fmt.Errorf("%w: page %d size %d", ErrMalformed, id, size)
	}
	loc, err := d.byte()
	if err != nil {
		return err
	}
	flags, err := d.byte()
	if err != nil {
		return err
	}
	if epoch, err = d.uvarint(); err != nil {
		return err
	}
	if lsn, err = d.uvarint(); err != nil {
		return err
	}
	meta, err := d.bytes()
	if err != nil {
		return err
	}
	lead, err := d.uvarint()
	if err != nil {
		return err
	}
	stored, err := d.uvarint()
	if err != nil {
		return err
	}
	if lead > size || stored > size-lead {
		return fmt.Errorf("%w: page %d stores %d bytes at offset %d, beyond its size %d", ErrMalformed, id, stored, lead, size)
	}
	if uint64(len(src)-d.off) != stored {
		return fmt.Errorf("%w: page %d has %d data bytes, want %d", ErrMalformed, id, len(src)-d.off, stored)
	}
	data := src[d.off:]
	if stored != size {
		// Expand the trimmed zeros into the reusable scratch buffer.
		if uint64(cap(p.scratch)) < size {
			p.scratch = make([]byte, size)
		}
		full := p.scratch[:size]
		clear(full)
		copy(full[lead:], data)
		data = full
	}
	scratch := p.scratch
	*p = PageImage{ID: base.PageID(id), Size: uint32(size), Location: base.Location(loc), Flags: flags,
		Epoch: base.Epoch(epoch), LastLSN: base.LSN(lsn), Meta: meta, Data: data, scratch: scratch}
	return nil
}

// DecodeOne decodes a payload holding exactly one operation of kind want:
// CkptEdge records hold one OpAddEdge encoding and CkptBinding records one
// OpBind encoding, so checkpoints reuse the log's operation codec.
func DecodeOne(src []byte, want OpKind, op *Op) error {
	d := Decoder{src: src}
	if err := d.Next(op); err != nil {
		return err
	}
	if op.Kind != want || d.More() {
		return fmt.Errorf("%w: checkpoint record holds %v, want one %v", ErrMalformed, op.Kind, want)
	}
	return nil
}
