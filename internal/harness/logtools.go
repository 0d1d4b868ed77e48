package harness

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// This file holds what several benchmarks share: f64 page helpers and the
// log tools the negative controls use to damage a log on purpose (a
// flipped byte under a valid CRC, a flipped byte under a stale CRC, an
// appended record). The frame layout they rely on is tlog's (docs/tlog.md):
// a 24-byte segment header, then frames of payload length (4), CRC32C (4),
// first LSN (8), count (4) and the payload; the CRC covers bytes 8.. of the
// frame.

// errNoFrame: a log tool found no frame matching what it was asked to damage.
var errNoFrame = errors.New("harness: no matching log frame")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	segHeaderSize   = tlog.SegmentHeaderSize
	frameHeaderSize = tlog.FrameHeaderSize
)

// f64Meta declares a page as an array of float64 (built-in functions and
// the finite-f64 invariant rely on it).
var f64Meta = []page.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}

// f64Page encodes vs as a little-endian float64 page.
func f64Page(vs []float64) []byte { return semiring.AppendF64(nil, vs...) }

// f64s decodes a float64 page into dst.
func f64s(dst []float64, b []byte) []float64 {
	dst = dst[:0]
	for i := 0; i+8 <= len(b); i += 8 {
		dst = append(dst, semiring.F64At(b, i/8))
	}
	return dst
}

// isFinite reports whether every float64 of a page is finite.
func isFinite(b []byte) bool {
	for i := 0; i+8 <= len(b); i += 8 {
		v := semiring.F64At(b, i/8)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// frameRef locates one frame of a segment file.
type frameRef struct {
	file    string
	off     int // offset of the frame header
	first   base.LSN
	count   uint32
	payload []byte // aliases the file image
}

// readSegments loads every segment of walDir and lists its frames. It stops
// a segment at the first frame that does not parse (a damaged log is the
// validators' business, not this tool's).
func readSegments(fs vfs.FS, walDir string) (map[string][]byte, []frameRef, error) {
	names, err := fs.List(walDir)
	if err != nil {
		return nil, nil, err
	}
	images := map[string][]byte{}
	var frames []frameRef
	for _, name := range names {
		if _, ok := tlog.ParseSegmentName(name); !ok {
			continue
		}
		path := fs.Join(walDir, name)
		f, err := fs.Open(path)
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
		images[path] = b
		for off := segHeaderSize; off+frameHeaderSize <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[off:]))
			end := off + frameHeaderSize + n
			if n == 0 || end > len(b) {
				break
			}
			frames = append(frames, frameRef{file: path, off: off,
				first:   base.LSN(binary.LittleEndian.Uint64(b[off+8:])),
				count:   binary.LittleEndian.Uint32(b[off+16:]),
				payload: b[off+frameHeaderSize : end]})
			off = end
		}
	}
	return images, frames, nil
}

// writeImage rewrites a segment file in place (Create truncates the same
// file, so a live log's open handle sees the new bytes).
func writeImage(fs vfs.FS, path string, b []byte) error {
	f, err := fs.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lastOp decodes a payload and returns its last operation.
func lastOp(payload []byte) (record.Op, bool) {
	var dec record.Decoder
	var op record.Op
	if dec.Reset(payload) != nil {
		return op, false
	}
	ok := false
	for dec.More() {
		if dec.Next(&op) != nil {
			return op, false
		}
		ok = true
	}
	return op, ok
}

// CorruptLastClientDelta flips the lowest bit of the last data byte of the
// newest client delta in the log of walDir whose encoding ends with its
// data (a FormRuns delta with no source, intent or expected epoch), and, if
// fixCRC, recomputes the frame's CRC so that the log still reads as valid:
// a log that lies about what was written, which only replay comparison can
// catch. Without fixCRC the damage is a plain bit flip that the CRC catches.
// It returns the LSN of the damaged operation.
func CorruptLastClientDelta(fs vfs.FS, walDir string, fixCRC bool) (base.LSN, error) {
	images, frames, err := readSegments(fs, walDir)
	if err != nil {
		return 0, err
	}
	for i := len(frames) - 1; i >= 0; i-- {
		fr := frames[i]
		op, ok := lastOp(fr.payload)
		d := &op.Delta
		if !ok || op.Kind != record.OpDelta || d.Form != delta.FormRuns || len(d.Runs) == 0 || d.Source != "" || len(d.Intent) != 0 || d.CheckEpoch {
			continue
		}
		last := d.Runs[len(d.Runs)-1]
		if len(last.Data) == 0 {
			continue
		}
		fr.payload[len(fr.payload)-1] ^= 0x01
		if fixCRC {
			b := images[fr.file]
			binary.LittleEndian.PutUint32(b[fr.off+4:], crc32.Checksum(b[fr.off+8:fr.off+frameHeaderSize+len(fr.payload)], castagnoli))
		}
		if err := writeImage(fs, fr.file, images[fr.file]); err != nil {
			return 0, err
		}
		return fr.first + base.LSN(fr.count) - 1, nil
	}
	return 0, fmt.Errorf("%w: no client delta ending with its data in %s", errNoFrame, walDir)
}

// AppendRawRecord appends one validly framed record holding payload (count
// operations) at the end of the newest segment of walDir, continuing the
// log's LSNs. It bypasses every check of the engine: negative controls use
// it to plant an operation the engine would refuse (an orphan delta).
func AppendRawRecord(fs vfs.FS, walDir string, count uint32, payload []byte) (base.LSN, error) {
	images, frames, err := readSegments(fs, walDir)
	if err != nil {
		return 0, err
	}
	if len(frames) == 0 {
		return 0, fmt.Errorf("%w: empty log in %s", errNoFrame, walDir)
	}
	lastFr := frames[len(frames)-1]
	first := lastFr.first + base.LSN(lastFr.count)
	b := images[lastFr.file]
	b = b[:lastFr.off+frameHeaderSize+len(lastFr.payload)]
	n := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(first))
	b = binary.LittleEndian.AppendUint32(b, count)
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b[n+4:], crc32.Checksum(b[n+8:], castagnoli))
	return first, writeImage(fs, lastFr.file, b)
}

// comparePages compares every page of live and replayed (read through the
// public API, independently of mmsb.VerifyReplay): the number of bytes
// that differ (pages present on one side only count their whole size) and
// the L2 norm of the differences over float64 pages.
func comparePages(live, replayed *mmsb.Bus) (bytesDiff int64, l2 float64, pages int, err error) {
	livePages, err := live.Pages()
	if err != nil {
		return 0, 0, 0, err
	}
	replayedPages, err := replayed.Pages()
	if err != nil {
		return 0, 0, 0, err
	}
	var sumSq float64
	var a, b []byte
	seen := map[base.PageID]bool{}
	for _, p := range livePages {
		seen[p.ID] = true
		pages++
		a, _, _ = live.ReadPage(p.ID, a[:0])
		var err error
		b, _, err = replayed.ReadPage(p.ID, b[:0])
		if err != nil {
			bytesDiff += int64(len(a))
			continue
		}
		if bytes.Equal(a, b) {
			continue
		}
		n := min(len(a), len(b))
		for k := 0; k < n; k++ {
			if a[k] != b[k] {
				bytesDiff++
			}
		}
		bytesDiff += int64(max(len(a), len(b)) - n)
		if isF64Info(p) {
			for k := 0; k+8 <= n; k += 8 {
				d := semiring.F64At(a, k/8) - semiring.F64At(b, k/8)
				if !math.IsNaN(d) {
					sumSq += d * d
				}
			}
		}
	}
	for _, p := range replayedPages {
		if !seen[p.ID] {
			bytesDiff += int64(p.Size)
		}
	}
	return bytesDiff, math.Sqrt(sumSq), pages, nil
}

func isF64Info(p mmsb.PageInfo) bool {
	for _, m := range p.Meta {
		if m.Key == mmsb.TypeMetaKey {
			return string(m.Value) == "f64"
		}
	}
	return false
}

// openMem opens an in-memory bus with the harness's reproducible settings.
func openMem(funcs map[string]semiring.Func) (*mmsb.Bus, error) {
	return mmsb.Open("", &mmsb.Options{Sync: tlog.SyncNone, CheckpointBytes: -1,
		Clock: deterministicClock(), Functions: funcs})
}

// createF64Pages creates n float64 pages of elems elements each.
func createF64Pages(ctx context.Context, e *mmsb.Bus, n, elems int) ([]base.PageID, error) {
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: elems * 8, Meta: f64Meta}
	}
	return e.CreatePages(ctx, specs)
}

// FlipLogByte flips one bit in the middle of the payload of the middle
// frame of the log in walDir, leaving its CRC stale: the damage a disk or a
// stray write does, which the CRC must catch. It returns the damaged
// record's first LSN.
func FlipLogByte(fs vfs.FS, walDir string) (base.LSN, error) {
	images, frames, err := readSegments(fs, walDir)
	if err != nil {
		return 0, err
	}
	if len(frames) == 0 {
		return 0, fmt.Errorf("%w: empty log in %s", errNoFrame, walDir)
	}
	fr := frames[len(frames)/2]
	fr.payload[len(fr.payload)/2] ^= 0x10
	return fr.first, writeImage(fs, fr.file, images[fr.file])
}
