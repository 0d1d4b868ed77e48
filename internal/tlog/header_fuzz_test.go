package tlog

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
)

// FuzzSegmentHeader: decodeSegmentHeader never panics; a header it
// accepts is exactly the encoding of the first LSN it names (one spelling
// per header: the bytes past SegmentHeaderSize are the segment's, not the
// header's) and that LSN is not 0; one it refuses says why. Every seed
// whose checksum is fixed up after a change is refused for that change
// alone, and the valid seeds must decode to the LSN they were made with:
// a decoder that refused everything, or read the LSN from another offset,
// fails on the seeds.
func FuzzSegmentHeader(f *testing.F) {
	valid := appendSegmentHeader(nil, 0x0102030405060708)
	f.Add(valid)
	f.Add(appendSegmentHeader(nil, 1))
	f.Add(append(appendSegmentHeader(nil, 7), "frame bytes"...))
	f.Add(valid[:SegmentHeaderSize-1])
	// resum recomputes the checksum after a change, so that the change,
	// not the checksum, is what the decoder must refuse.
	resum := func(set func(h []byte)) []byte {
		h := bytes.Clone(valid)
		set(h)
		binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(h[:20], castagnoli))
		return h
	}
	f.Add(resum(func(h []byte) { h[0] = 'X' }))                                            // magic
	f.Add(resum(func(h []byte) { binary.LittleEndian.PutUint32(h[8:], FormatVersion+1) })) // version
	f.Add(resum(func(h []byte) { binary.LittleEndian.PutUint64(h[12:], 0) }))              // first LSN 0
	f.Add(func() []byte { h := bytes.Clone(valid); h[23]++; return h }())                  // checksum
	f.Fuzz(func(t *testing.T, b []byte) {
		first, reason := decodeSegmentHeader(b)
		if reason != "" {
			if first != 0 {
				t.Fatalf("refused (%s) with first LSN %d", reason, first)
			}
			switch {
			case bytes.Equal(b, valid):
				t.Fatalf("a valid header is refused: %s", reason)
			case len(b) >= SegmentHeaderSize && bytes.HasPrefix(b, appendSegmentHeader(nil, base.LSN(binary.LittleEndian.Uint64(b[12:])))) &&
				binary.LittleEndian.Uint64(b[12:]) != 0:
				t.Fatalf("the header of first LSN %d is refused: %s", binary.LittleEndian.Uint64(b[12:]), reason)
			}
			return
		}
		if first == 0 {
			t.Fatal("accepted a header with first LSN 0")
		}
		if want := appendSegmentHeader(nil, first); len(b) < SegmentHeaderSize || !bytes.Equal(b[:SegmentHeaderSize], want) {
			t.Fatalf("accepted % x as first LSN %d, whose header is % x", b, first, want)
		}
		if bytes.Equal(b, valid) && first != 0x0102030405060708 {
			t.Fatalf("the valid seed decodes to first LSN %#x, want 0x0102030405060708", first)
		}
	})
}

// FuzzParseSegmentName: ParseSegmentName never panics, and a name it
// accepts is exactly SegmentName of the LSN it returns (so a directory
// listing cannot hold two names for one segment), an LSN not 0. The
// seeds include names of the smallest and largest LSN, which must parse.
func FuzzParseSegmentName(f *testing.F) {
	for _, lsn := range []base.LSN{1, 42, 1<<64 - 1} {
		f.Add(SegmentName(lsn))
	}
	for _, s := range []string{SegmentName(0), "18446744073709551616.log", "0000000000000000001.log",
		"+0000000000000000001.log", "00000000000000000001.LOG", "00000000000000000001.log.tmp", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		lsn, ok := ParseSegmentName(name)
		if !ok {
			for _, want := range []base.LSN{1, 42, 1<<64 - 1} {
				if name == SegmentName(want) {
					t.Fatalf("ParseSegmentName(%q) refused", name)
				}
			}
			return
		}
		if lsn == 0 || SegmentName(lsn) != name {
			t.Fatalf("ParseSegmentName(%q) = %d, whose name is %q", name, lsn, SegmentName(lsn))
		}
	})
}
