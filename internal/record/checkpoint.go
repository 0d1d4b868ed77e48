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
	CkptPending uint8 = 5 // pages written and not yet propagated (AppendPending)
	// CkptRecompute lists derived pages the next wave computes although no
	// parent changed: bound and not yet computed, or held back by a failed
	// recompute function (AppendPending's encoding).
	CkptRecompute uint8 = 6
)

// MaxPendingPerRecord bounds the page IDs of one CkptPending record, so
// that a bus with millions of pending pages writes several records of at
// most about 640 KiB each rather than one past checkpoint.MaxRecordBytes.
const MaxPendingPerRecord = 1 << 16

// State is the bus-wide part of a checkpoint.
type State struct {
	LastLSN  base.LSN
	NextID   base.PageID // next auto-assigned page ID; 0: none is left (page 2^64-1 exists)
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
	// But never fewer than MinStored(size) bytes (zeros taken back from the
	// trimmed span), so that a checkpoint's pages declare at most
	// ZeroExpansion times its bytes and a loader can bound what it
	// allocates by the file's size.
	if want := MinStored(len(p.Data)); end-lead < want {
		end = min(len(p.Data), lead+want)
		lead = end - want
	}
	dst = binary.AppendUvarint(dst, uint64(lead))
	dst = binary.AppendUvarint(dst, uint64(end-lead))
	return append(dst, p.Data[lead:end]...)
}

// ZeroExpansion bounds zero trimming: a page record stores at least one
// byte per ZeroExpansion bytes of page (MinStored), so the pages of a
// checkpoint written by AppendPage declare at most ZeroExpansion times the
// bytes of the file that holds them. The loader refuses a checkpoint whose
// pages declare more (a few kilobytes of hand-made records declaring pages
// of base.MaxPageSize made Open allocate gigabytes). One byte per 4 KiB
// costs a never-written page 1/4096 of its size on disk; a page with any
// non-zero byte pays nothing below 4 KiB.
const ZeroExpansion = 4096

// MinStored is how many bytes AppendPage stores of a page of size bytes at
// least: ceil(size / ZeroExpansion).
func MinStored(size int) int { return (size + ZeroExpansion - 1) / ZeroExpansion }

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

// DecodePage decodes AppendPage's encoding; slices alias src, except Data
// when zeros were trimmed: those are expanded into a buffer p keeps and
// reuses (grown by doubling, so a run of ever larger pages allocates less
// than twice the largest).
func DecodePage(src []byte, p *PageImage) error {
	lead, err := DecodePageSpan(src, p)
	if err != nil {
		return err
	}
	if len(p.Data) != int(p.Size) {
		// Expand the trimmed zeros into the reusable scratch buffer.
		size := int(p.Size)
		if cap(p.scratch) < size {
			p.scratch = make([]byte, size, min(max(size, 2*cap(p.scratch)), base.MaxPageSize))
		}
		full := p.scratch[:size]
		clear(full)
		copy(full[lead:], p.Data)
		p.Data = full
	}
	return nil
}

// DecodePageSpan decodes AppendPage's encoding like DecodePage but does not
// expand trimmed zeros: Data is the stored span only, bytes [lead,
// lead+len(Data)) of a page of Size bytes whose other bytes are zero, and
// every slice aliases src. A loader that copies into zeroed memory needs no
// more, and allocates nothing for the declared size.
func DecodePageSpan(src []byte, p *PageImage) (lead uint32, err error) {
	d := Decoder{src: src}
	var id, size, epoch, lsn uint64
	if id, err = d.uvarint(); err != nil {
		return 0, err
	}
	if size, err = d.uvarint(); err != nil {
		return 0, err
	}
	if size == 0 || size > base.MaxPageSize {
		return 0, fmt.Errorf("%w: page %d size %d", ErrMalformed, id, size)
	}
	loc, err := d.byte()
	if err != nil {
		return 0, err
	}
	flags, err := d.byte()
	if err != nil {
		return 0, err
	}
	if epoch, err = d.uvarint(); err != nil {
		return 0, err
	}
	if lsn, err = d.uvarint(); err != nil {
		return 0, err
	}
	meta, err := d.bytes()
	if err != nil {
		return 0, err
	}
	start, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	stored, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if start > size || stored > size-start {
		return 0, fmt.Errorf("%w: page %d stores %d bytes at offset %d, beyond its size %d", ErrMalformed, id, stored, start, size)
	}
	if uint64(len(src)-d.off) != stored {
		return 0, fmt.Errorf("%w: page %d has %d data bytes, want %d", ErrMalformed, id, len(src)-d.off, stored)
	}
	scratch := p.scratch
	*p = PageImage{ID: base.PageID(id), Size: uint32(size), Location: base.Location(loc), Flags: flags,
		Epoch: base.Epoch(epoch), LastLSN: base.LSN(lsn), Meta: meta, Data: src[d.off:], scratch: scratch}
	return uint32(start), nil
}

// AppendPending encodes a CkptPending or CkptRecompute record (a page set):
// the page IDs ids, which must
// be strictly ascending and at most MaxPendingPerRecord (at least one), as
// uvarint count, uvarint first ID, then for each further ID the uvarint gap
// from the one before it (at least 1). Gaps keep a dense pending set at about
// a byte per page.
func AppendPending(dst []byte, ids []base.PageID) []byte {
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

// DecodePending decodes AppendPending's encoding, appending the IDs to dst.
// Every ID count, gap and overflow AppendPending cannot write is
// ErrMalformed.
func DecodePending(src []byte, dst []base.PageID) ([]base.PageID, error) {
	d := Decoder{src: src}
	n, err := d.uvarint()
	if err != nil {
		return dst, err
	}
	if n == 0 || n > MaxPendingPerRecord {
		return dst, fmt.Errorf("%w: page set holds %d page IDs, want 1 to %d", ErrMalformed, n, MaxPendingPerRecord)
	}
	// Each ID takes at least a byte: a count the payload cannot hold is
	// refused before anything is appended.
	if n > uint64(len(src)-d.off) {
		return dst, fmt.Errorf("%w: page set declares %d page IDs in %d bytes", ErrMalformed, n, len(src)-d.off)
	}
	var id uint64
	for i := uint64(0); i < n; i++ {
		v, err := d.uvarint()
		if err != nil {
			return dst, err
		}
		if i > 0 {
			if v == 0 || id+v < id {
				return dst, fmt.Errorf("%w: page set: gap %d after page ID %d (want 1 to %d)", ErrMalformed, v, id, ^uint64(0)-id)
			}
			v += id
		}
		id = v
		dst = append(dst, base.PageID(id))
	}
	if d.More() {
		return dst, fmt.Errorf("%w: %d bytes after the page set's IDs", ErrMalformed, len(src)-d.off)
	}
	return dst, nil
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
