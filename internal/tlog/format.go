package tlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// Format constants. The byte layout is documented in docs/tlog.md.
const (
	// FormatVersion is the segment format version written in every header.
	FormatVersion uint32 = 1
	// SegmentHeaderSize is the size of a segment file's header: magic (8),
	// version (4), first LSN (8), CRC32C of the preceding 20 bytes (4).
	SegmentHeaderSize = 24
	// FrameHeaderSize is the size of a record frame's header: payload length
	// (4), CRC32C (4), first LSN (8), count (4).
	FrameHeaderSize = 20
	// MaxRecordBytes bounds a record's payload, so that a corrupt length
	// field can never make a reader allocate gigabytes.
	MaxRecordBytes = 256 << 20
	// DefaultSegmentBytes is the rotation threshold used when
	// Options.SegmentBytes is zero.
	DefaultSegmentBytes = 64 << 20
)

// segmentMagic opens every segment file.
const segmentMagic = "MMSBTLOG"

// castagnoli is the CRC32C table; the standard library uses the SSE4.2 /
// ARMv8 CRC instructions for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SegmentName returns the file name of the segment whose first record
// holds LSN first: the LSN as 20 zero-padded decimal digits, so that name
// order is LSN order.
func SegmentName(first base.LSN) string { return fmt.Sprintf("%020d.log", first) }

// ParseSegmentName parses a name made by SegmentName.
func ParseSegmentName(name string) (base.LSN, bool) {
	digits, ok := strings.CutSuffix(name, ".log")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v == 0 {
		return 0, false
	}
	return base.LSN(v), true
}

// appendSegmentHeader appends a segment header for a segment starting at
// LSN first.
func appendSegmentHeader(dst []byte, first base.LSN) []byte {
	n := len(dst)
	dst = append(dst, segmentMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, FormatVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(first))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[n:n+20], castagnoli))
}

// decodeSegmentHeader checks a segment header. reason is empty when the
// header is valid.
func decodeSegmentHeader(h []byte) (first base.LSN, reason string) {
	if len(h) < SegmentHeaderSize {
		return 0, fmt.Sprintf("segment header truncated (%d of %d bytes)", len(h), SegmentHeaderSize)
	}
	if want, got := binary.LittleEndian.Uint32(h[20:]), crc32.Checksum(h[:20], castagnoli); want != got {
		return 0, fmt.Sprintf("segment header checksum mismatch (stored %#08x, computed %#08x)", want, got)
	}
	if string(h[:8]) != segmentMagic {
		return 0, fmt.Sprintf("bad segment magic %q", h[:8])
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != FormatVersion {
		return 0, fmt.Sprintf("unsupported segment format version %d (want %d)", v, FormatVersion)
	}
	first = base.LSN(binary.LittleEndian.Uint64(h[12:]))
	if first == 0 {
		return 0, "segment header first LSN is 0"
	}
	return first, ""
}

// appendFrame appends one framed record. The CRC covers the first LSN,
// the count and the payload (bytes 8.. of the frame); the length is
// protected indirectly (a wrong length makes the CRC cover the wrong bytes).
func appendFrame(dst []byte, first base.LSN, count uint32, payload []byte) []byte {
	n := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // CRC, filled below
	dst = binary.LittleEndian.AppendUint64(dst, uint64(first))
	dst = binary.LittleEndian.AppendUint32(dst, count)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[n+4:], crc32.Checksum(dst[n+8:], castagnoli))
	return dst
}

// segment is one segment file of a directory listing.
type segment struct {
	first base.LSN // from the file name
	path  string
}

// listSegments returns the segment files of dir in LSN order. Other files
// are ignored.
func listSegments(fs vfs.FS, dir string) ([]segment, error) {
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("tlog: list %s: %w", dir, err)
	}
	var segs []segment
	for _, name := range names {
		if lsn, ok := ParseSegmentName(name); ok {
			segs = append(segs, segment{first: lsn, path: fs.Join(dir, name)})
		}
	}
	// List returns sorted names and the names are fixed width, but do not
	// rely on an implementation detail of an arbitrary FS.
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && segs[j].first < segs[j-1].first; j-- {
			segs[j], segs[j-1] = segs[j-1], segs[j]
		}
	}
	return segs, nil
}

// frameStatus classifies what the scanner found at its position.
type frameStatus uint8

const (
	frameOK         frameStatus = iota // a valid record
	frameEOF                           // clean end of the segment
	frameIncomplete                    // the frame extends past the end of the file
	frameBadCRC                        // checksum mismatch; the frame lies within the file
	frameInvalid                       // frame fields are invalid (count 0, LSN overflow, oversized)
)

// scanner reads the frames of one segment sequentially through a buffered
// reader bounded by the size observed when the segment was opened (so a
// concurrent writer's later appends are not seen half-written). Its buffers
// are reused from segment to segment.
type scanner struct {
	f    vfs.File
	path string
	size int64
	br   *bufio.Reader

	hdr [SegmentHeaderSize]byte
	buf []byte

	// Results of the last next call.
	frameOff int64 // offset of the frame
	off      int64 // offset just past the frame (when it was consumed)
	first    base.LSN
	count    uint32
	payload  []byte
	reason   string
	lastGood base.LSN // last LSN of the last good frame (header's first-1 initially)
}

const scanBufferSize = 256 << 10

func (s *scanner) init(f vfs.File, path string, size int64) {
	s.f, s.path, s.size, s.off = f, path, size, 0
	src := io.NewSectionReader(f, 0, size)
	if s.br == nil {
		s.br = bufio.NewReaderSize(src, scanBufferSize)
	} else {
		s.br.Reset(src)
	}
}

// seek repositions the scanner at off, a frame boundary whose record starts
// at LSN first (after readHeader).
func (s *scanner) seek(off int64, first base.LSN) {
	s.br.Reset(io.NewSectionReader(s.f, off, s.size-off))
	s.off = off
	if first > 0 {
		s.lastGood = first - 1
	}
}

// readHeader reads and checks the segment header. reason is non-empty if
// the header is bad; err reports I/O failures only.
func (s *scanner) readHeader() (first base.LSN, reason string, err error) {
	if s.size < SegmentHeaderSize {
		unit := "bytes"
		if s.size == 1 {
			unit = "byte" // "file is 1 bytes" until 2026-12-07 (TestTruncatedHeaderSaysOneByte)
		}
		return 0, fmt.Sprintf("segment header truncated (file is %d %s, header is %d)", s.size, unit, SegmentHeaderSize), nil
	}
	if _, err := io.ReadFull(s.br, s.hdr[:]); err != nil {
		return 0, "", fmt.Errorf("tlog: read %s: %w", s.path, err)
	}
	s.off = SegmentHeaderSize
	first, reason = decodeSegmentHeader(s.hdr[:])
	if first > 0 {
		s.lastGood = first - 1
	}
	return first, reason, nil
}

// next reads the frame at the current offset. For frameIncomplete nothing is
// consumed; for every other status the frame is consumed, so scanning can go
// on after a bad checksum. err reports I/O failures only.
func (s *scanner) next() (frameStatus, error) {
	s.frameOff = s.off
	s.reason = ""
	remaining := s.size - s.off
	if remaining == 0 {
		return frameEOF, nil
	}
	if remaining < FrameHeaderSize {
		s.reason = fmt.Sprintf("incomplete frame header (%d of %d bytes before end of file)", remaining, FrameHeaderSize)
		return frameIncomplete, nil
	}
	h := s.hdr[:FrameHeaderSize]
	if _, err := io.ReadFull(s.br, h); err != nil {
		return 0, fmt.Errorf("tlog: read %s at %d: %w", s.path, s.off, err)
	}
	length := int64(binary.LittleEndian.Uint32(h[0:]))
	stored := binary.LittleEndian.Uint32(h[4:])
	s.first = base.LSN(binary.LittleEndian.Uint64(h[8:]))
	s.count = binary.LittleEndian.Uint32(h[16:])
	if length > remaining-FrameHeaderSize {
		// The bytes left counted from the record's start, as
		// recovery's TornBytes counts what it cuts: `mmsb check` said
		// 20 fewer than `mmsb checkpoint` of one torn tail
		// (TestTornTailSaidWithOneFigure).
		s.reason = fmt.Sprintf("record length %d extends past end of file (%d bytes left from the record's start)", length, remaining)
		// Re-position the buffered reader: the header was consumed, but an
		// incomplete frame must not be. Callers stop at this status anyway.
		return frameIncomplete, nil
	}
	s.off += FrameHeaderSize + length
	if length > MaxRecordBytes {
		if _, err := s.br.Discard(int(length)); err != nil {
			return 0, fmt.Errorf("tlog: read %s at %d: %w", s.path, s.frameOff, err)
		}
		s.reason = fmt.Sprintf("record length %d exceeds maximum %d", length, MaxRecordBytes)
		return frameInvalid, nil
	}
	if int64(cap(s.buf)) < length {
		s.buf = make([]byte, length, max(length, 2*int64(cap(s.buf))))
	}
	s.payload = s.buf[:length]
	if _, err := io.ReadFull(s.br, s.payload); err != nil {
		return 0, fmt.Errorf("tlog: read %s at %d: %w", s.path, s.frameOff, err)
	}
	computed := crc32.Update(crc32.Checksum(h[8:FrameHeaderSize], castagnoli), castagnoli, s.payload)
	switch {
	case computed != stored:
		s.reason = fmt.Sprintf("record checksum mismatch (stored %#08x, computed %#08x)", stored, computed)
		return frameBadCRC, nil
	case s.count == 0:
		s.reason = "record holds zero LSNs"
		return frameInvalid, nil
	case s.first == 0:
		s.reason = "record first LSN is 0"
		return frameInvalid, nil
	case s.first+base.LSN(s.count)-1 < s.first:
		s.reason = fmt.Sprintf("record LSN range [%d, +%d) overflows", s.first, s.count)
		return frameInvalid, nil
	}
	s.lastGood = s.last()
	return frameOK, nil
}

// skipCovered decides a damaged frame that next consumed (frameBadCRC or
// frameInvalid: its length delimited it) where the reader needs no LSN
// below from (a checkpoint holds the state through from-1). It reads the
// frame after it: when that one is intact and starts at an LSN in
// (expected, from], every LSN the damaged frame can have held is below
// from, nothing needed is lost, and skipCovered returns true with the
// scanner holding the intact frame as if next had returned frameOK.
// Otherwise it puts the scanner back on the damaged frame, as next left
// it, and returns false: the caller reports the damage. expected is the
// LSN the damaged frame should have started at (0: unknown, never
// skipped).
//
// Why: a segment holding LSNs the reader needs is read from its start,
// and one flipped bit in a record a checkpoint had long covered made the
// bus refuse to open (and Repair truncate away the records after the
// checkpoint), though the state was whole (TestOpenSkipsCoveredDamage).
func (s *scanner) skipCovered(expected, from base.LSN) (bool, error) {
	if expected == 0 || expected >= from {
		return false, nil
	}
	badOff, lastGood := s.frameOff, s.lastGood
	st, err := s.next()
	if err != nil {
		return false, err
	}
	if st == frameOK && s.first > expected && s.first <= from {
		return true, nil
	}
	s.seek(badOff, 0)
	s.lastGood = lastGood
	if _, err := s.next(); err != nil {
		return false, err
	}
	return false, nil
}

// last is the last LSN of the record just scanned.
func (s *scanner) last() base.LSN { return s.first + base.LSN(s.count) - 1 }

// zerosFrom reports whether every byte of the segment from off to the size
// seen at open is zero (true when off is at or past the end): the signature
// of a torn write on filesystems that extend a file before its data lands.
func (s *scanner) zerosFrom(off int64) (bool, error) {
	return zeroRange(s.f, s.path, off, s.size)
}

func zeroRange(f io.ReaderAt, path string, off, end int64) (bool, error) {
	var chunk [32 << 10]byte
	for off < end {
		n := min(int64(len(chunk)), end-off)
		if _, err := f.ReadAt(chunk[:n], off); err != nil && err != io.EOF {
			return false, fmt.Errorf("tlog: read %s at %d: %w", path, off, err)
		}
		for _, b := range chunk[:n] {
			if b != 0 {
				return false, nil
			}
		}
		off += n
	}
	return true, nil
}

// tornAt reports whether the problem status st, found in the last segment,
// is a torn tail: an incomplete frame, or a bad checksum followed only by
// zero bytes (or nothing).
func (s *scanner) tornAt(st frameStatus) (bool, error) {
	switch st {
	case frameIncomplete:
		// A frame whose length runs past the end is what a torn write
		// leaves, but also what a corrupted length field looks like.
	case frameBadCRC:
		// A torn write leaves zeros (or nothing) after a bad frame; so does
		// a corrupted length that makes the frame end exactly at the end
		// of the file or in zeros.
		if zero, err := s.zerosFrom(s.off); err != nil || !zero {
			return false, err
		}
	default:
		return false, nil
	}
	// Only a torn write may be truncated: if an intact later frame
	// follows, the length was corrupted, and truncating would silently
	// drop acknowledged records.
	later, err := s.intactFrameAfter(s.frameOff + 1)
	if err != nil {
		return false, err
	}
	if later >= 0 {
		s.reason += fmt.Sprintf("; an intact record follows at offset %d, so this is corruption, not a torn tail", later)
		return false, nil
	}
	return true, nil
}

// fill copies the last scanned record into r.
func (s *scanner) fill(r *Record) {
	r.FirstLSN, r.Count, r.Payload, r.File, r.Offset = s.first, s.count, s.payload, s.path, s.frameOff
}

// intactFrameAfter searches the segment from off to its end for a frame
// that verifies (plausible LSN range after the last good frame, length
// within the file, matching CRC) and returns its offset, or -1. It runs
// only when recovery is about to truncate a tail, so it may read the rest
// of the segment; the LSN filter keeps CRC attempts rare.
func (s *scanner) intactFrameAfter(off int64) (int64, error) {
	if s.size-off < FrameHeaderSize {
		return -1, nil
	}
	rest := make([]byte, s.size-off)
	if _, err := s.f.ReadAt(rest, off); err != nil && !errors.Is(err, io.EOF) {
		return -1, fmt.Errorf("tlog: read %s at %d: %w", s.path, off, err)
	}
	for i := 0; i+FrameHeaderSize <= len(rest); i++ {
		h := rest[i : i+FrameHeaderSize]
		first := base.LSN(binary.LittleEndian.Uint64(h[8:]))
		count := binary.LittleEndian.Uint32(h[16:])
		length := int(binary.LittleEndian.Uint32(h[0:]))
		if first <= s.lastGood || count == 0 || first-s.lastGood > base.LSN(len(rest)) ||
			length > len(rest)-i-FrameHeaderSize || length > MaxRecordBytes {
			continue
		}
		payload := rest[i+FrameHeaderSize : i+FrameHeaderSize+length]
		if crc32.Update(crc32.Checksum(h[8:FrameHeaderSize], castagnoli), castagnoli, payload) == binary.LittleEndian.Uint32(h[4:]) {
			return off + int64(i), nil
		}
	}
	return -1, nil
}
