package checkpoint

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

// The container layout of docs/checkpoint.md (header, record frame,
// trailer), transcribed from the doc's tables: the test builds a file the
// way the doc says, checks that a Writer writes exactly those bytes under
// the doc's name, and that a Reader reads the doc's bytes back. A change
// to the code or to the doc that is not made to the other fails here.

var docCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// docCkptHeader: magic (0, 8), version u32 (8, 4), LSN u64 (12, 8),
// CRC32C of bytes 0..19 (20, 4).
func docCkptHeader(lsn uint64) []byte {
	h := make([]byte, 24)
	copy(h[0:8], "MMSBCKPT")
	binary.LittleEndian.PutUint32(h[8:12], 1)
	binary.LittleEndian.PutUint64(h[12:20], lsn)
	binary.LittleEndian.PutUint32(h[20:24], crc32.Checksum(h[0:20], docCastagnoli))
	return h
}

// docCkptFrame: length u32 (0, 4), CRC32C of the kind byte and the
// payload (4, 4), kind u8 (8, 1), payload (9, n).
func docCkptFrame(kind byte, payload []byte) []byte {
	f := make([]byte, 9+len(payload))
	binary.LittleEndian.PutUint32(f[0:4], uint32(len(payload)))
	f[8] = kind
	copy(f[9:], payload)
	binary.LittleEndian.PutUint32(f[4:8], crc32.Checksum(f[8:], docCastagnoli))
	return f
}

// docCkptFile is a whole file: header, frames, and the trailer, a frame
// of kind 0xFF whose 12-byte payload is the record count (u64) and the
// CRC32C of every byte of the file before the trailer frame (u32).
func docCkptFile(lsn uint64, kinds []byte, payloads [][]byte) []byte {
	b := docCkptHeader(lsn)
	for i := range kinds {
		b = append(b, docCkptFrame(kinds[i], payloads[i])...)
	}
	t := make([]byte, 12)
	binary.LittleEndian.PutUint64(t[0:8], uint64(len(kinds)))
	binary.LittleEndian.PutUint32(t[8:12], crc32.Checksum(b, docCastagnoli))
	return append(b, docCkptFrame(0xFF, t)...)
}

func TestContainerMatchesCheckpointDoc(t *testing.T) {
	const lsn = 4242
	kinds := []byte{1, 2, 2, 3}
	payloads := [][]byte{[]byte("state"), []byte("page one"), {}, []byte("edge")}
	doc := docCkptFile(lsn, kinds, payloads)
	if got, want := len(doc)-len(docCkptFile(lsn, kinds[:3], payloads[:3])), 9+len(payloads[3]); got != want {
		t.Fatalf("test's own arithmetic: %d, %d", got, want)
	}

	// The encoder.
	dir := t.TempDir()
	w, err := Create(vfs.Default, dir, lsn)
	if err != nil {
		t.Fatal(err)
	}
	for i := range kinds {
		if err := w.Append(kinds[i], payloads[i]); err != nil {
			t.Fatal(err)
		}
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	const name = "checkpoint-00000000000000004242.ckpt"
	if filepath.Base(path) != name {
		t.Errorf("committed as %s, the doc's name is %s", filepath.Base(path), name)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, doc) {
		t.Errorf("a Writer writes\n  % x\nthe doc's layout is\n  % x", written, doc)
	}

	// The decoder.
	dir2 := t.TempDir()
	p2 := filepath.Join(dir2, name)
	if err := os.WriteFile(p2, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(vfs.Default, p2)
	if err != nil {
		t.Fatalf("the reader refuses the doc's header: %v", err)
	}
	defer r.Close()
	if r.LSN() != lsn {
		t.Errorf("LSN %d, want %d", r.LSN(), lsn)
	}
	for i := range kinds {
		k, p, err := r.Next()
		if err != nil {
			t.Fatalf("record %d: the reader refuses the doc's layout: %v", i, err)
		}
		if k != kinds[i] || !bytes.Equal(p, payloads[i]) {
			t.Errorf("record %d: kind %d payload %q, want %d %q", i, k, p, kinds[i], payloads[i])
		}
	}
	if _, _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("the doc's trailer: %v, want io.EOF", err)
	}
	if FormatVersion != 1 || HeaderSize != 24 || FrameHeaderSize != 9 || KindTrailer != 0xFF ||
		TrailerPayloadSize+FrameHeaderSize != 21 || MaxRecordBytes != 256<<20 {
		t.Errorf("constants differ from the doc's: version %d, header %d, frame header %d, trailer kind %#x, trailer %d bytes, max record %d",
			FormatVersion, HeaderSize, FrameHeaderSize, KindTrailer, TrailerPayloadSize+FrameHeaderSize, MaxRecordBytes)
	}
}
