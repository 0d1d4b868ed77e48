package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// The segment layout of docs/tlog.md ("Segment header", "Record frame"),
// transcribed from the doc's tables: the test builds a segment the way
// the doc says, checks that a Log writes exactly those bytes and that a
// Reader reads the doc's bytes back. A change to the code or to the doc
// that is not made to the other fails here.

// docLayoutField is one row of a doc table: offset, size, and the value
// the test puts there.
type docLayoutField struct {
	name      string
	off, size int
	v         uint64
	b         []byte
}

// docPut writes fields into b at the doc's offsets, little-endian.
func docPut(t *testing.T, b []byte, fields []docLayoutField) {
	t.Helper()
	for _, f := range fields {
		if f.off+f.size > len(b) {
			t.Fatalf("%s: [%d, %d) is past the %d-byte structure", f.name, f.off, f.off+f.size, len(b))
		}
		dst := b[f.off : f.off+f.size]
		switch {
		case f.b != nil:
			copy(dst, f.b)
		case f.size == 4:
			binary.LittleEndian.PutUint32(dst, uint32(f.v))
		case f.size == 8:
			binary.LittleEndian.PutUint64(dst, f.v)
		default:
			t.Fatalf("%s: %d-byte integer", f.name, f.size)
		}
	}
}

var docCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// docSegmentHeader is docs/tlog.md's segment header (24 bytes): the CRC
// covers bytes 0..19.
func docSegmentHeader(t *testing.T, first uint64) []byte {
	h := make([]byte, 24)
	docPut(t, h, []docLayoutField{
		{name: "magic", off: 0, size: 8, b: []byte("MMSBTLOG")},
		{name: "version", off: 8, size: 4, v: 1},
		{name: "first LSN", off: 12, size: 8, v: first},
	})
	docPut(t, h, []docLayoutField{{name: "header CRC", off: 20, size: 4, v: uint64(crc32.Checksum(h[0:20], docCastagnoli))}})
	return h
}

// docFrame is docs/tlog.md's record frame (20-byte header + payload):
// the CRC covers bytes 8..(20+n-1), first LSN, count and payload.
func docFrame(t *testing.T, first uint64, count uint32, payload []byte) []byte {
	f := make([]byte, 20+len(payload))
	docPut(t, f, []docLayoutField{
		{name: "length", off: 0, size: 4, v: uint64(len(payload))},
		{name: "first LSN", off: 8, size: 8, v: first},
		{name: "count", off: 16, size: 4, v: uint64(count)},
		{name: "payload", off: 20, size: len(payload), b: payload},
	})
	docPut(t, f, []docLayoutField{{name: "CRC", off: 4, size: 4, v: uint64(crc32.Checksum(f[8:20+len(payload)], docCastagnoli))}})
	return f
}

func TestSegmentMatchesTlogDoc(t *testing.T) {
	payloads := [][]byte{[]byte("first record, three LSNs"), []byte("second")}
	doc := docSegmentHeader(t, 1)
	doc = append(doc, docFrame(t, 1, 3, payloads[0])...)
	doc = append(doc, docFrame(t, 4, 1, payloads[1])...)

	// The encoder: a Log writes the doc's bytes, under the doc's name.
	dir := t.TempDir()
	l, _, err := Open(Options{FS: vfs.Default, Dir: dir, Sync: SyncAlways}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(1, 3, payloads[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(4, 1, payloads[1]); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	const name = "00000000000000000001.log" // 20 zero-padded digits + .log
	written, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("the doc's segment name: %v", err)
	}
	if !bytes.Equal(written, doc) {
		t.Errorf("a Log writes\n  % x\nthe doc's layout is\n  % x", written, doc)
	}

	// The decoder: a Reader reads the doc's bytes back.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, name), doc, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(vfs.Default, dir2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := []struct {
		first uint64
		count uint32
	}{{1, 3}, {4, 1}}
	for i, w := range want {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: the reader refuses the doc's layout: %v", i, err)
		}
		if uint64(rec.FirstLSN) != w.first || rec.Count != w.count || !bytes.Equal(rec.Payload, payloads[i]) {
			t.Errorf("record %d: read first %d count %d payload %q; want %d, %d, %q", i, rec.FirstLSN, rec.Count, rec.Payload, w.first, w.count, payloads[i])
		}
	}
	if rec, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the doc's two records: %+v, %v; want io.EOF", rec, err)
	}
	if FormatVersion != 1 || SegmentHeaderSize != 24 || FrameHeaderSize != 20 || MaxRecordBytes != 256<<20 {
		t.Errorf("constants: version %d, header %d, frame header %d, max record %d; the doc says 1, 24, 20, 256 MiB",
			FormatVersion, SegmentHeaderSize, FrameHeaderSize, MaxRecordBytes)
	}
}
