package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
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
var f64Meta = []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}

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
	first   mmsb.LSN
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
		_ = f.Close() // already failing or read-only: the error above is the one to report
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
				first:   mmsb.LSN(binary.LittleEndian.Uint64(b[off+8:])),
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
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return err
	}
	return f.Close()
}

// flipFileByte flips one bit of file path at fraction frac of its length
// (a checkpoint, for the negative controls): the damage a disk or a stray
// write does, which the file's CRCs must catch.
func flipFileByte(fs vfs.FS, path string, frac float64) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	_ = f.Close() // already failing or read-only: the error above is the one to report
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return fmt.Errorf("%w: %s is empty", errNoFrame, path)
	}
	b[int(frac*float64(len(b)-1))] ^= 0x10
	return writeImage(fs, path, b)
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
func CorruptLastClientDelta(fs vfs.FS, walDir string, fixCRC bool) (mmsb.LSN, error) {
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
		return fr.first + mmsb.LSN(fr.count) - 1, nil
	}
	return 0, fmt.Errorf("%w: no client delta ending with its data in %s", errNoFrame, walDir)
}

// AppendRawRecord appends one validly framed record holding payload (count
// operations) at the end of the newest segment of walDir, continuing the
// log's LSNs. It bypasses every check of the engine: negative controls use
// it to plant an operation the engine would refuse (an orphan delta).
func AppendRawRecord(fs vfs.FS, walDir string, count uint32, payload []byte) (mmsb.LSN, error) {
	images, frames, err := readSegments(fs, walDir)
	if err != nil {
		return 0, err
	}
	if len(frames) == 0 {
		return 0, fmt.Errorf("%w: empty log in %s", errNoFrame, walDir)
	}
	lastFr := frames[len(frames)-1]
	first := lastFr.first + mmsb.LSN(lastFr.count)
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
// the L2 norm of the differences over every cell of every float64 page
// (f64SumSq; a float64 page missing on one side makes it +Inf).
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
	seen := map[mmsb.PageID]bool{}
	for _, p := range livePages {
		seen[p.ID] = true
		pages++
		a, _, _ = live.ReadPage(p.ID, a[:0])
		var err error
		b, _, err = replayed.ReadPage(p.ID, b[:0])
		if err != nil {
			bytesDiff += int64(len(a))
			if isF64Info(p) {
				sumSq = math.Inf(1)
			}
			continue
		}
		bytesDiff += bytesDiffering(a, b)
		if isF64Info(p) {
			sumSq += f64SumSq(a, b)
		}
	}
	for _, p := range replayedPages {
		if !seen[p.ID] {
			bytesDiff += int64(p.Size)
			if isF64Info(p) {
				sumSq = math.Inf(1)
			}
		}
	}
	return bytesDiff, math.Sqrt(sumSq), pages, nil
}

// bytesDiffering counts the bytes where a and b differ, the length
// difference included.
func bytesDiffering(a, b []byte) int64 {
	n := min(len(a), len(b))
	d := int64(max(len(a), len(b)) - n)
	for k := 0; k < n; k++ {
		if a[k] != b[k] {
			d++
		}
	}
	return d
}

// f64SumSq is the sum of squared differences over every float64 cell of a
// and b, computed for every cell, not only where bytes differ, so that the
// L2 figure is a measurement of its own rather than a restatement of the
// byte comparison. Bitwise-equal cells add 0 (NaN equal to itself
// included); a cell whose difference is not a finite number (NaN against a
// number, Inf against anything else) makes the sum +Inf, and so does a
// length mismatch: a divergence to NaN or a truncated page cannot hide.
func f64SumSq(a, b []byte) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var sum float64
	for k := 0; k+8 <= len(a); k += 8 {
		x, y := binary.LittleEndian.Uint64(a[k:]), binary.LittleEndian.Uint64(b[k:])
		if x == y {
			continue
		}
		d := math.Float64frombits(x) - math.Float64frombits(y)
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return math.Inf(1)
		}
		sum += d * d
	}
	return sum
}

// recomputeOutcome is what recomputeBindings measured.
type recomputeOutcome struct {
	bindings, checked int     // bindings on the bus; recomputed and compared
	bytesDiff         int64   // bytes where a recomputed output differs from the page
	l2                float64 // over every float64 cell of every derived page
	first             string  // the first difference or failure, for people
}

// recomputeBindings re-runs every binding's recompute function of e on its
// parents' bytes as they are in e, with out pre-filled with the page's
// current bytes (as propagation does), and compares each output with the
// derived page, which in a replayed bus holds the bytes the log recorded.
// Replay only re-applies those logged bytes and never calls a function, so
// this is the check that the log's derived bytes are what the functions
// compute. funcs holds the non-built-in functions. A binding that cannot be
// recomputed (unknown function, unreadable page, function error) counts as
// unchecked.
func recomputeBindings(e *mmsb.Bus, funcs map[string]mmsb.RecomputeFunc) recomputeOutcome {
	var out recomputeOutcome
	note := func(format string, args ...any) {
		if out.first == "" {
			out.first = fmt.Sprintf(format, args...)
		}
	}
	var cur, got []byte
	for _, id := range e.Bindings() {
		out.bindings++
		b, ok := e.Binding(id)
		if !ok {
			note("page %d: binding vanished", id)
			continue
		}
		fn, ok := funcs[b.Func]
		if !ok {
			fn, ok = semiring.Lookup(b.Func)
		}
		if !ok {
			note("page %d: function %q not registered", id, b.Func)
			continue
		}
		var err error
		if cur, _, err = e.ReadPage(id, cur[:0]); err != nil {
			note("page %d: %v", id, err)
			continue
		}
		ins := make([][]byte, 0, len(b.Parents))
		for _, p := range b.Parents {
			in, _, err := e.ReadPage(p, nil)
			if err != nil {
				note("page %d: parent %d: %v", id, p, err)
				break
			}
			ins = append(ins, in)
		}
		if len(ins) != len(b.Parents) {
			continue
		}
		got = append(got[:0], cur...)
		if err := fn(ins, b.Params, got); err != nil {
			note("page %d: %s: %v", id, b.Func, err)
			continue
		}
		out.checked++
		if d := bytesDiffering(got, cur); d > 0 {
			out.bytesDiff += d
			note("page %d: %s of its parents differs from the logged bytes in %d byte(s)", id, b.Func, d)
		}
		if info, err := e.Page(id); err == nil && isF64Info(info) {
			out.l2 += f64SumSq(got, cur)
		}
	}
	out.l2 = math.Sqrt(out.l2)
	return out
}

func isF64Info(p mmsb.PageInfo) bool {
	for _, m := range p.Meta {
		if m.Key == mmsb.TypeMetaKey {
			return string(m.Value) == "f64"
		}
	}
	return false
}

// missingPage is a page ID no benchmark creates: a delta to it is invalid
// (negative controls submit one to make a tick reject it).
const missingPage mmsb.PageID = 1 << 40

// openMem opens an in-memory bus with the harness's reproducible settings.
func openMem(funcs map[string]mmsb.RecomputeFunc) (*mmsb.Bus, error) {
	return mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1,
		Clock: deterministicClock(), Functions: funcs})
}

// createF64Pages creates n float64 pages of elems elements each.
func createF64Pages(ctx context.Context, e *mmsb.Bus, n, elems int) ([]mmsb.PageID, error) {
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
func FlipLogByte(fs vfs.FS, walDir string) (mmsb.LSN, error) {
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
