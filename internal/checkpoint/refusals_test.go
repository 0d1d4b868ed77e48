package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestContainerRefusals: each check of the container refuses a file built
// the documented way (docCkptFile) with one field broken and every other
// checksum made to match again, so that only the check under test can
// catch it; the error must be corruption naming that field. Single bit
// flips (TestEveryBitFlipFails) do not reach these: the checks overlap
// (a flipped magic byte also breaks the header CRC, a flipped trailer
// count also breaks the trailer frame's CRC), and any one of them could
// be deleted unnoticed.
func TestContainerRefusals(t *testing.T) {
	const lsn = 77
	kinds := []byte{1, 2, 3}
	payloads := [][]byte{[]byte("state"), []byte("page"), []byte("edge")}
	valid := docCkptFile(lsn, kinds, payloads)
	trailerAt := len(valid) - FrameHeaderSize - TrailerPayloadSize

	// fixHeader recomputes the header CRC; fixFile recomputes the trailer's
	// whole-file CRC and its frame CRC, for a file of records ending in a
	// trailer of TrailerPayloadSize bytes at trailerAt.
	fixHeader := func(b []byte) {
		binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], docCastagnoli))
	}
	fixFile := func(b []byte) {
		tr := b[trailerAt+FrameHeaderSize:]
		binary.LittleEndian.PutUint32(tr[8:], crc32.Checksum(b[:trailerAt], docCastagnoli))
		binary.LittleEndian.PutUint32(b[trailerAt+4:], crc32.Checksum(b[trailerAt+8:], docCastagnoli))
	}
	// trailer replaces the trailer frame by one holding payload.
	trailer := func(payload []byte) []byte {
		b := append([]byte{}, valid[:trailerAt]...)
		return append(b, docCkptFrame(KindTrailer, payload)...)
	}
	cases := []struct {
		name  string
		build func() []byte
		want  string
	}{
		{"header checksum", func() []byte {
			b := bytes.Clone(valid)
			b[20] ^= 1
			fixFile(b) // only the header's own CRC is wrong
			return b
		}, "header checksum mismatch"},
		{"magic", func() []byte {
			b := bytes.Clone(valid)
			copy(b, "MMSBCKPX")
			fixHeader(b)
			fixFile(b)
			return b
		}, `bad magic "MMSBCKPX"`},
		{"format version", func() []byte {
			b := bytes.Clone(valid)
			binary.LittleEndian.PutUint32(b[8:], 2)
			fixHeader(b)
			fixFile(b)
			return b
		}, "unsupported format version 2 (want 1)"},
		{"record length past the maximum", func() []byte {
			b := bytes.Clone(valid)
			binary.LittleEndian.PutUint32(b[HeaderSize:], MaxRecordBytes+1)
			return b
		}, "record length 268435457 exceeds maximum 268435456"},
		{"trailer payload length", func() []byte {
			t := make([]byte, TrailerPayloadSize+1)
			binary.LittleEndian.PutUint64(t, uint64(len(kinds)))
			binary.LittleEndian.PutUint32(t[8:], crc32.Checksum(valid[:trailerAt], docCastagnoli))
			return trailer(t)
		}, "trailer payload is 13 bytes, want 12"},
		{"trailer record count", func() []byte {
			b := bytes.Clone(valid)
			binary.LittleEndian.PutUint64(b[trailerAt+FrameHeaderSize:], uint64(len(kinds)-1))
			fixFile(b)
			return b
		}, "trailer says 2 records, file holds 3"},
		{"trailer whole-file checksum", func() []byte {
			b := bytes.Clone(valid)
			b[trailerAt+FrameHeaderSize+8] ^= 1
			binary.LittleEndian.PutUint32(b[trailerAt+4:], crc32.Checksum(b[trailerAt+8:], docCastagnoli))
			return b
		}, "whole-file checksum mismatch"},
	}
	dir := t.TempDir()
	path := filepath.Join(dir, FileName(lsn))
	if err := os.WriteFile(path, valid, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Verify(vfs.Default, path); err != nil {
		t.Fatalf("the valid file: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.build(), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Verify(vfs.Default, path)
			var ce *corruption.Error
			if !errors.As(err, &ce) || !strings.Contains(ce.Reason, c.want) {
				t.Fatalf("Verify: %v, want corruption naming %q", err, c.want)
			}
		})
	}
}

// TestParseNameRefusals: a name is a checkpoint's only with the prefix,
// the suffix and 20 decimal digits between (retention and log trimming go
// by the LSN it states). The digit loop has no row of its own:
// strconv.ParseUint in base 10 refuses every non-digit as well.
func TestParseNameRefusals(t *testing.T) {
	digits := "00000000000000000077"
	for _, name := range []string{
		digits + ".ckpt",                // no prefix
		"checkpoin-" + digits + ".ckpt", // another prefix
		"checkpoint-" + digits,          // no suffix
		"checkpoint-" + digits[1:] + ".ckpt",
		"checkpoint-0000000000000000007x.ckpt",
		"checkpoint-+0000000000000000077.ckpt",
	} {
		if lsn, ok := ParseName(name); ok {
			t.Errorf("ParseName(%q) = %d, true; want false", name, lsn)
		}
	}
	if lsn, ok := ParseName("checkpoint-" + digits + ".ckpt"); !ok || lsn != 77 {
		t.Errorf("ParseName of a checkpoint's name: %d, %v", lsn, ok)
	}
}
