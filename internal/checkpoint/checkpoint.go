// Package checkpoint is MMSB's checkpoint file container: a header (magic,
// format version, the LSN the snapshot covers), a sequence of CRC32C-framed
// typed records, and a trailer (record count and a CRC32C over the whole
// file). Files are written to a temporary name, fsynced, renamed into place
// and the directory fsynced, so a checkpoint is either whole or absent. The
// record payloads are opaque here (internal/record defines them).
package checkpoint

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// Errors.
var (
	// ErrReservedKind: Append was given KindTrailer, which only the trailer uses.
	ErrReservedKind = errors.New("checkpoint: reserved record kind")
	// ErrTooLarge: Append was given a payload larger than MaxRecordBytes.
	ErrTooLarge = errors.New("checkpoint: record too large")
	// ErrFinished: the Writer was already committed, aborted or failed.
	ErrFinished = errors.New("checkpoint: writer finished")
	// ErrNotRegular: a checkpoint's name holds something other than a
	// regular file (a directory, a named pipe, a device).
	// The text has no "checkpoint: " prefix: it is only ever wrapped in
	// "checkpoint: open FILE: ".
	ErrNotRegular = vfs.ErrNotRegular
	// ErrFilePanicked: the checkpoint's file or filesystem (a caller's own
	// vfs.FS) panicked in one of its methods. The checkpoint fails as it
	// does when the method returns an error (see guard).
	ErrFilePanicked = errors.New("checkpoint: file panicked")
)

// panicError is the error that stands for a panic with value v out of the
// file's or filesystem's method named method. A value that is an error is
// wrapped (errors.Is and As see it).
func panicError(method string, v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%w: %s panicked: %w", ErrFilePanicked, method, err)
	}
	return fmt.Errorf("%w: %s panicked: %v", ErrFilePanicked, method, v)
}

// guard calls fn, a call of the file's or filesystem's method named
// method, and returns a panic out of it as an error (panicError). A
// checkpoint is written on the bus's checkpointing goroutine (an automatic
// one on a goroutine of its own): a panic of a caller's vfs.FS there ended
// the process, or, out of an explicit Bus.Checkpoint, left copy on write
// on for every later commit (TestCheckpointFilePanicIsFailure). One
// deferred call per file call (a buffer of bufferSize bytes), none per
// record.
func guard(method string, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicError(method, v)
		}
	}()
	return fn()
}

// Format constants; the layout is documented in docs/checkpoint.md.
const (
	// FormatVersion is the checkpoint format version.
	FormatVersion uint32 = 1
	// HeaderSize: magic (8), version (4), LSN (8), CRC32C of those 20 bytes (4).
	HeaderSize = 24
	// FrameHeaderSize: payload length (4), CRC32C of kind+payload (4), kind (1).
	FrameHeaderSize = 9
	// KindTrailer is the reserved kind of the trailer record.
	KindTrailer uint8 = 0xFF
	// TrailerPayloadSize: record count (8) and CRC32C of every byte before
	// the trailer frame (4).
	TrailerPayloadSize = 12
	// MaxRecordBytes bounds one record's payload, so a corrupt length can
	// never cause a huge allocation.
	MaxRecordBytes = 256 << 20
)

const (
	magic      = "MMSBCKPT"
	namePrefix = "checkpoint-"
	nameSuffix = ".ckpt"
	tmpSuffix  = ".ckpt.tmp"
	// bufferSize is the size of each write: a multiple of vfs.DirectAlign.
	// Direct writes of 256 KiB gave commits during on-disk checkpoints of
	// 1M pages p99 1.80-2.82 ms (median 2.29 in 18 runs), against
	// 2.95-3.87 ms with 1 MiB, 4.3-5.4 ms with 4 MiB and a longer
	// checkpoint with 64 KiB: a log fsync queues behind at most one such
	// write (docs/benchmarks.md).
	bufferSize = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileName returns the final file name of the checkpoint covering lsn.
func FileName(lsn base.LSN) string { return fmt.Sprintf("%s%020d%s", namePrefix, lsn, nameSuffix) }

// tempName returns the temporary file name used while writing.
func tempName(lsn base.LSN) string { return fmt.Sprintf("%s%020d%s", namePrefix, lsn, tmpSuffix) }

// altTempInfix makes the temporary name Create writes under when
// tempName(lsn) holds a directory it cannot remove (createTemp):
// checkpoint-<20-digit LSN>.alt.ckpt.tmp. It ends in tmpSuffix, so
// RemoveTemp removes what a crash left under it, and IsTempName knows it.
const altTempInfix = ".alt"

// altTempName returns the second temporary name of the checkpoint of lsn.
func altTempName(lsn base.LSN) string {
	return fmt.Sprintf("%s%020d%s%s", namePrefix, lsn, altTempInfix, tmpSuffix)
}

// parseName parses a final checkpoint file name.
func parseName(name string) (base.LSN, bool) {
	digits, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, nameSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	return base.LSN(v), err == nil
}

// Info describes a checkpoint file found in a directory.
type Info struct {
	Path string
	LSN  base.LSN
	Size int64 // -1 when Err is set
	// Err is why the file could not be opened or sized (a file the
	// process may not read, a dangling link, a named pipe): the file is
	// listed all the same, so that one unreadable checkpoint neither hides
	// the others nor fails recovery, which skips it as it skips a damaged
	// one (Open returns the same error, naming the file).
	Err error
}

// ParseName reports the LSN a final checkpoint file name
// (checkpoint-<20-digit LSN>.ckpt) states, and whether name is one.
func ParseName(name string) (base.LSN, bool) { return parseName(name) }

// IsTempName reports whether name is a temporary checkpoint file name
// (checkpoint-<20-digit LSN>.ckpt.tmp, or checkpoint-<20-digit
// LSN>.alt.ckpt.tmp, the one Create writes under when the first holds a
// directory): a checkpoint being written, or one a crash interrupted,
// which recovery removes.
func IsTempName(name string) bool {
	stem, ok := strings.CutSuffix(name, ".tmp")
	if !ok {
		return false
	}
	if _, ok = parseName(stem); ok {
		return true
	}
	digits, ok := strings.CutSuffix(stem, altTempInfix+nameSuffix)
	if !ok {
		return false
	}
	_, ok = parseName(digits + nameSuffix)
	return ok
}

// Writer writes one checkpoint. It is not safe for concurrent use.
//
// It buffers bufferSize (256 KiB) and writes whole buffers. Where the file
// can write directly (vfs.DirectWriter: O_DIRECT on Linux), whole buffers
// go to the device past the page cache, and only the last partial buffer is
// written through it before the final fsync: a gigabyte of checkpoint
// left dirty in the page cache is what other files' fsyncs (the log's,
// with group sync) waited for while a checkpoint ran
// (docs/benchmarks.md). Elsewhere it starts writing each range back as it
// goes and waits for the one before, so at most two ranges are queued.
type Writer struct {
	fs      vfs.FS
	dir     string
	lsn     base.LSN
	tmp     string
	f       vfs.File
	buf     []byte // DirectAlign-aligned; buf[:n] is not written to f yet
	n       int
	direct  bool   // f writes whole buffers directly
	flushed int64  // bytes written to f
	synced  int64  // bytes handed to StartWriteback
	waited  int64  // bytes whose writeback has finished (WaitWriteback)
	crc     uint32 // CRC32C of every byte written so far
	records uint64
	hdr     [FrameHeaderSize]byte
	pace    *pacer // nil: no rate limit (SetRate)
	err     error  // set once the writer is finished or failed
}

// Create starts a checkpoint covering every operation with LSN <= lsn, in
// a temporary file in dir.
//
// A panic out of fs (a caller's own vfs.FS) is returned as an error
// wrapping ErrFilePanicked, and the temporary file, if made, is removed.
func Create(fs vfs.FS, dir string, lsn base.LSN) (_ *Writer, err error) {
	if fs == nil {
		fs = vfs.Default
	}
	w := &Writer{fs: fs, dir: dir, lsn: lsn}
	defer func() {
		// Everything below calls fs; the header's write is guarded
		// where the file is written (flush).
		if v := recover(); v != nil {
			err = fmt.Errorf("checkpoint: create in %s: %w", dir, panicError("FS", v))
			if w.tmp != "" {
				w.Abort()
			}
		}
	}()
	if err := vfs.MkdirAllAndSync(fs, dir); err != nil {
		return nil, fmt.Errorf("checkpoint: create directory %s: %w", dir, err)
	}
	tmp, err := createTemp(fs, dir, lsn)
	if err != nil {
		return nil, err
	}
	w.tmp = tmp
	f, err := fs.Create(w.tmp)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: create %s: %w", w.tmp, err)
	}
	w.f = f
	w.buf = vfs.AlignedBuffer(bufferSize)
	if d, ok := f.(vfs.DirectWriter); ok && d.SetDirect(true) == nil {
		w.direct = true
	}
	var h [HeaderSize]byte
	copy(h[:], magic)
	binary.LittleEndian.PutUint32(h[8:], FormatVersion)
	binary.LittleEndian.PutUint64(h[12:], uint64(lsn))
	binary.LittleEndian.PutUint32(h[20:], crc32.Checksum(h[:20], castagnoli))
	if err := w.write(h[:]); err != nil {
		return nil, err
	}
	return w, nil
}

// createTemp returns the temporary name the checkpoint of lsn is written
// under, with nothing left under it: whatever a crash or someone else
// left there is unlinked first (a symbolic link is removed, not followed:
// Create truncated the file it pointed to and wrote the checkpoint into
// it, TestCreateUnlinksTempLink; a stale file with other hard links is
// not truncated under them). A directory holding files there (an
// operator's, a restored backup tree; RemoveTemp passes over it) is left
// as it is, and the checkpoint written under the second temporary name
// (altTempName). Before, Create failed on it ("is a directory"), and so
// did every checkpoint taken at that LSN (TestCreateBesideDirectoryAtTemp).
// A directory under both names fails, naming the second.
func createTemp(fs vfs.FS, dir string, lsn base.LSN) (string, error) {
	var tmp string
	for _, name := range []string{tempName(lsn), altTempName(lsn)} {
		tmp = fs.Join(dir, name)
		if !present(fs, tmp) {
			return tmp, nil
		}
		err := fs.Remove(tmp)
		if err == nil || vfs.IsNotExist(err) {
			return tmp, nil
		}
		if !holdsDir(fs, tmp) {
			return "", fmt.Errorf("checkpoint: create %s: remove what is there: %w", tmp, err)
		}
	}
	return "", fmt.Errorf("checkpoint: create %s: it holds a directory, as does %s: %w", tmp, fs.Join(dir, tempName(lsn)), syscall.EISDIR)
}

// present reports whether anything is under path, a dangling symbolic
// link included (fs.Exists follows a link, and sees none there). Nothing
// is removed where nothing is.
func present(fs vfs.FS, path string) bool {
	if fs.Exists(path) {
		return true
	}
	f, err := vfs.OpenRegular(fs, path)
	if err == nil {
		_ = f.Close() // put there since Exists: opened only to look
		return true
	}
	return errors.Is(err, vfs.ErrDanglingLink)
}

// holdsDir reports whether path holds a directory (not through a symbolic
// link, which Remove unlinks): by OpenRegular's ErrNotRegular on the
// operating system's filesystem, by EISDIR on vfs.MemFS.
func holdsDir(fs vfs.FS, path string) bool {
	if fs == vfs.Default {
		st, err := os.Lstat(path)
		return err == nil && st.IsDir()
	}
	f, err := vfs.OpenRegular(fs, path)
	if err == nil {
		_ = f.Close() // opened only to look: nothing written
		return false
	}
	return errors.Is(err, syscall.EISDIR) || errors.Is(err, vfs.ErrNotRegular)
}

// SizeHint says the checkpoint will be about n bytes, so that a file that
// can reserve room (vfs.SizeHinter: the in-memory filesystem) does it once
// instead of growing by copies.
func (w *Writer) SizeHint(n int64) {
	if h, ok := w.f.(vfs.SizeHinter); ok && w.err == nil {
		// A hint: its panic is dropped (the writes that follow meet a
		// file that is broken).
		_ = guard("SizeHint", func() error { h.SizeHint(n); return nil })
	}
}

// write writes b, folding it into the whole-file CRC. On failure the
// writer is aborted.
func (w *Writer) write(b []byte) error {
	w.crc = crc32.Update(w.crc, castagnoli, b)
	for len(b) > 0 {
		c := copy(w.buf[w.n:], b)
		w.n += c
		b = b[c:]
		if w.n == len(w.buf) {
			if err := w.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the buffer's bytes to the file: directly when they fill it
// and the file can, through the page cache otherwise (the last partial
// buffer).
func (w *Writer) flush() error {
	b := w.buf[:w.n]
	if w.direct && len(b) < len(w.buf) {
		// A partial buffer is not a multiple of the block size: write it
		// through the page cache (the file's last bytes; Commit fsyncs).
		if err := w.setDirect(false); err != nil {
			return w.failf("checkpoint: write %s: %w", w.tmp, err)
		}
		w.direct = false
	}
	n, err := w.fileWrite(b)
	if err != nil && w.direct && n == 0 && errors.Is(err, syscall.EINVAL) {
		// The filesystem took O_DIRECT but refuses this write (alignment
		// rules of its own): write through the page cache from now on.
		if w.setDirect(false) == nil {
			w.direct = false
			n, err = w.fileWrite(b)
		}
	}
	if err == nil && n < len(b) {
		// io.Writer's contract says this cannot happen; a vfs.FS of the
		// caller's that breaks it would otherwise lose the rest of the
		// buffer unnoticed and commit a file that does not verify (as
		// bufio.Writer does, take it for a failed write).
		err = fmt.Errorf("%w: %d of %d bytes written", io.ErrShortWrite, n, len(b))
	}
	if err != nil {
		return w.failf("checkpoint: write %s: %w", w.tmp, err)
	}
	w.flushed += int64(n)
	w.n = 0
	w.pace.wait(n)
	if w.direct {
		w.waited, w.synced = w.flushed, w.flushed // nothing is left dirty
		return nil
	}
	if rs, ok := w.f.(vfs.RangeSyncer); ok && w.flushed-w.synced >= writebackBytes {
		// Start writing back what the OS has so far, without waiting: the
		// final fsync then has little left to do, and disk writes overlap
		// with encoding the rest (a 1 GiB checkpoint is disk-bound). Then
		// wait for the range before it: at most two ranges are in flight.
		// Unbounded, the checkpoint's dirty pages queued ahead of the
		// log's fdatasync (ext4's ordered mode flushes newly allocated
		// data with the journal commit), and group-sync commits waited.
		if err := guard("StartWriteback", func() error { return rs.StartWriteback(w.synced, w.flushed-w.synced) }); err != nil {
			return w.failf("checkpoint: write back %s: %w", w.tmp, err)
		}
		if rw, ok := w.f.(vfs.RangeWaiter); ok {
			if err := guard("WaitWriteback", func() error { return rw.WaitWriteback(w.waited, w.synced-w.waited) }); err != nil {
				return w.failf("checkpoint: write back %s: %w", w.tmp, err)
			}
		}
		w.waited, w.synced = w.synced, w.flushed
	}
	return nil
}

// fileWrite writes b to the file, a panic out of its Write returned as an
// error (see guard).
func (w *Writer) fileWrite(b []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, panicError("Write", v)
		}
	}()
	return w.f.Write(b)
}

// setDirect switches the file's direct writes on or off (see guard).
func (w *Writer) setDirect(on bool) error {
	return guard("SetDirect", func() error { return w.f.(vfs.DirectWriter).SetDirect(on) })
}

// writebackBytes is how much a checkpoint written through the page cache
// writes before asking the OS to start writing it back (and waiting for
// the range before). Small, so that little of the checkpoint is queued at
// the device ahead of a log write: 1 MiB gave commits during a 1 GiB
// checkpoint p99 4.1 ms against 5.1-5.4 ms with 8 MiB
// (docs/benchmarks.md).
const writebackBytes = 1 << 20

// failf aborts the writer and returns a wrapped error.
func (w *Writer) failf(format string, args ...any) error {
	w.Abort()
	w.err = fmt.Errorf(format, args...)
	return w.err
}

func (w *Writer) appendFrame(kind uint8, payload []byte) error {
	binary.LittleEndian.PutUint32(w.hdr[0:], uint32(len(payload)))
	w.hdr[8] = kind
	c := crc32.Update(crc32.Update(0, castagnoli, w.hdr[8:9]), castagnoli, payload)
	binary.LittleEndian.PutUint32(w.hdr[4:], c)
	if err := w.write(w.hdr[:]); err != nil {
		return err
	}
	return w.write(payload)
}

// Append writes one framed record of the given kind. Buffered.
func (w *Writer) Append(kind uint8, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	if kind == KindTrailer {
		return fmt.Errorf("%w: %#x is the trailer's", ErrReservedKind, kind)
	}
	if len(payload) > MaxRecordBytes {
		return fmt.Errorf("%w: %d bytes, maximum %d", ErrTooLarge, len(payload), MaxRecordBytes)
	}
	if err := w.appendFrame(kind, payload); err != nil {
		return err
	}
	w.records++
	return nil
}

// Commit writes the trailer, fsyncs, renames the file to its final name
// (checkpoint-<20-digit LSN>.ckpt), fsyncs the directory and returns the
// final path. Any failure leaves no final file behind.
func (w *Writer) Commit() (string, error) {
	if w.err != nil {
		return "", w.err
	}
	var t [TrailerPayloadSize]byte
	binary.LittleEndian.PutUint64(t[0:], w.records)
	binary.LittleEndian.PutUint32(t[8:], w.crc)
	if err := w.appendFrame(KindTrailer, t[:]); err != nil {
		return "", err
	}
	if err := w.flush(); err != nil {
		return "", err
	}
	if err := guard("Sync", w.f.Sync); err != nil {
		return "", w.failf("checkpoint: fsync %s: %w", w.tmp, err)
	}
	f := w.f
	w.f = nil
	if err := guard("Close", f.Close); err != nil {
		return "", w.failf("checkpoint: close %s: %w", w.tmp, err)
	}
	final := w.fs.Join(w.dir, FileName(w.lsn))
	// A checkpoint taken again at the same LSN replaces the earlier one,
	// which was whole and durable: a crash leaves one of the two, either
	// a checkpoint of this LSN.
	var replaces bool
	if err := guard("Exists", func() error { replaces = w.fs.Exists(final); return nil }); err != nil {
		return "", w.failf("checkpoint: look for %s: %w", final, err)
	}
	if err := guard("Rename", func() error { return w.fs.Rename(w.tmp, final) }); err != nil {
		// A Rename that panicked may have renamed: the file is whole
		// then, and covered by the log as far as it goes, as after a
		// Rename that returned an error late.
		return "", w.failf("checkpoint: rename %s to %s: %w", w.tmp, final, err)
	}
	if err := guard("SyncDir", func() error { return w.fs.SyncDir(w.dir) }); err != nil {
		// The rename may or may not be durable; take a new name back so
		// that no caller relies on a checkpoint a crash could lose. A
		// replaced one stays: removing it deleted the earlier durable
		// checkpoint of this LSN too.
		if !replaces {
			_ = guard("Remove", func() error { return w.fs.Remove(final) })
			_ = guard("SyncDir", func() error { return w.fs.SyncDir(w.dir) })
		}
		return "", w.failf("checkpoint: fsync directory %s: %w", w.dir, err)
	}
	w.err = ErrFinished
	return final, nil
}

// Remove removes the checkpoint at path: renamed first to a temporary name
// (which List ignores and RemoveTemp removes after a crash), then freed a
// few MiB at a time (vfs.RemoveGradually), so that other files' fsyncs do
// not wait for a gigabyte of blocks to be freed in one journal commit.
//
// A name that holds no regular file (a dangling link, a named pipe, an
// empty directory: a checkpoint recovery skipped as unreadable) has no
// blocks to free and cannot be opened to shrink: it is removed at once.
// Before, the rename succeeded and the open failed, so the checkpoint
// that pruned it failed, leaving it under a temporary name.
//
// Once hurry (nil: never) reports true, the rest of the file is removed at
// once (vfs.RemoveGraduallyUntil): the bus passes "Close has begun", when
// no commit is left for the pacing to protect.
//
// A panic out of fs (a caller's own vfs.FS) is returned as an error
// wrapping ErrFilePanicked: the bus's prune, on the checkpointing
// goroutine, fails as for an error.
func Remove(fs vfs.FS, path string, hurry func() bool) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("checkpoint: remove %s: %w", path, panicError("FS", v))
		}
	}()
	if fs == vfs.Default {
		if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
			if err := fs.Remove(path); err != nil {
				return fmt.Errorf("checkpoint: remove %s: %w", path, err)
			}
			return nil
		}
	}
	tmp := strings.TrimSuffix(path, nameSuffix) + tmpSuffix
	return vfs.RemoveGraduallyUntil(fs, path, tmp, vfs.RemoveStep, vfs.RemovePause, hurry)
}

// SyncDir fsyncs dir (fs.SyncDir), a panic out of fs returned as an error
// wrapping ErrFilePanicked: the bus's prune calls it on the checkpointing
// goroutine.
func SyncDir(fs vfs.FS, dir string) error {
	return guard("SyncDir", func() error { return fs.SyncDir(dir) })
}

// Abort removes the temporary file. It is a no-op on a finished writer.
func (w *Writer) Abort() {
	if w.err != nil {
		return
	}
	if w.f != nil {
		_ = guard("Close", w.f.Close) // a panic too: the file is given up
		w.f = nil
	}
	_ = guard("Remove", func() error { return w.fs.Remove(w.tmp) })
	w.err = ErrFinished
}

// List returns the checkpoints in dir, newest (highest LSN) first. Leftover
// temporary files are ignored (and may be removed by RemoveTemp). A missing
// directory holds no checkpoints. A checkpoint that cannot be opened is
// listed with Info.Err set; the error is only for the directory itself.
func List(fs vfs.FS, dir string) ([]Info, error) {
	if fs == nil {
		fs = vfs.Default
	}
	var names []string
	err := guard("List", func() (err error) { names, err = fs.List(dir); return err })
	if err != nil {
		if vfs.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("checkpoint: list %s: %w", dir, err)
	}
	var infos []Info
	for _, name := range names {
		lsn, ok := parseName(name)
		if !ok {
			continue
		}
		path := fs.Join(dir, name)
		infos = append(infos, stat(fs, path, lsn))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].LSN > infos[j].LSN })
	return infos, nil
}

// HoldsNoFile reports whether the name i lists holds something that is no
// file at all: a directory or a named pipe (vfs.ErrNotRegular on the
// operating system's filesystem, EISDIR from vfs.MemFS). Such a name is
// not a checkpoint: a checkpoint is only ever written as a file and
// renamed into place, so an operator's directory (a restored backup tree,
// a mistaken mkdir) is no evidence of commits the log no longer holds.
// Recovery, Replay, `mmsb check` and the integrity validator pass over it
// with a warning (PassedOver). A name that leads nowhere is not among
// them: a dangling symbolic link may stand for a checkpoint on a disk that
// is not mounted, and a name removed since the listing is a checkpoint
// removed; both stay checkpoints that do not load, as does a regular file
// that cannot be read or is damaged (TestRecoverPassesOverNonFileCheckpointName,
// TestRecoverRefusesDanglingCheckpointLink, TestListFilesSplitsNonFiles).
func (i Info) HoldsNoFile() bool {
	return i.Err != nil && (errors.Is(i.Err, ErrNotRegular) || errors.Is(i.Err, syscall.EISDIR)) &&
		!vfs.IsNotExist(i.Err) && !errors.Is(i.Err, vfs.ErrDanglingLink)
}

// PassedOver is what recovery (Recovery().SkippedCheckpoint), `mmsb
// check` and the integrity validator say of a name that HoldsNoFile: one
// text, so that they say the same thing. Info.Err names the path and what
// it holds.
func (i Info) PassedOver() string {
	return fmt.Sprintf("%v: it holds no checkpoint file, so it is not a checkpoint: passed over and left as it is (remove or rename it)", i.Err)
}

// ListFiles is List split in two: the checkpoints, newest first (those
// that load and those that do not: damaged, unreadable, a dangling link),
// and the names under a checkpoint's pattern that hold no file
// (Info.HoldsNoFile), newest first, which every reader passes over. It is
// the one listing recovery, Replay, `mmsb check` and the validators use,
// so that they agree on what is a checkpoint.
func ListFiles(fs vfs.FS, dir string) (ckpts, notFiles []Info, err error) {
	list, err := List(fs, dir)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range list {
		if c.HoldsNoFile() {
			notFiles = append(notFiles, c)
		} else {
			ckpts = append(ckpts, c)
		}
	}
	return ckpts, notFiles, nil
}

// Restat describes the name c lists as it is now: c again, with Size and
// Err from a fresh look. A verdict taken from a listing (a name that held
// no file) may be stale by the time it is acted on; a caller about to
// remove a name on the strength of it looks again first.
func Restat(fs vfs.FS, c Info) Info {
	if fs == nil {
		fs = vfs.Default
	}
	return stat(fs, c.Path, c.LSN)
}

// stat describes the checkpoint at path; a file that cannot be opened or
// sized is described with Err set (before, List failed as a whole on it:
// `mmsb check` verified no other checkpoint and Open refused to recover
// from the older, whole one).
// A panic out of fs is the file's Err (panicError), as an error would be.
func stat(fs vfs.FS, path string, lsn base.LSN) (info Info) {
	defer func() {
		if v := recover(); v != nil {
			info = Info{Path: path, LSN: lsn, Size: -1, Err: fmt.Errorf("checkpoint: open %s: %w", path, panicError("FS", v))}
		}
	}()
	f, err := vfs.OpenRegular(fs, path)
	if err != nil {
		return Info{Path: path, LSN: lsn, Size: -1, Err: fmt.Errorf("checkpoint: open %s: %w", path, err)}
	}
	size, err := f.Size()
	_ = f.Close() // read-only: nothing to lose
	if err != nil {
		return Info{Path: path, LSN: lsn, Size: -1, Err: fmt.Errorf("checkpoint: size of %s: %w", path, err)}
	}
	return Info{Path: path, LSN: lsn, Size: size}
}

// RemoveTemp removes leftover temporary checkpoint files in dir (both
// temporary names: IsTempName).
//
// A panic out of fs (a caller's own vfs.FS) is returned as an error
// wrapping ErrFilePanicked, as the checkpoint writer's are: the bus calls
// RemoveTemp as it opens, where the panic went on to Open's caller. What
// it removed before the panic were leftovers; nothing else is touched
// (TestRemoveTempAndVerifyFilePanic).
func RemoveTemp(fs vfs.FS, dir string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("checkpoint: remove temporary files in %s: %w", dir, panicError("FS", v))
		}
	}()
	if fs == nil {
		fs = vfs.Default
	}
	names, err := fs.List(dir)
	if err != nil {
		if vfs.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("checkpoint: list %s: %w", dir, err)
	}
	removed := false
	var errs error
	for _, name := range names {
		if strings.HasPrefix(name, namePrefix) && strings.HasSuffix(name, tmpSuffix) {
			path := fs.Join(dir, name)
			// One that cannot be removed (a directory holding files
			// under such a name) is reported and passed over: the
			// others are still removed. Before, the first one stopped
			// the loop, and the leftovers after it, a checkpoint's
			// size each, stayed on disk (TestRemoveTempPassesOverStuck).
			if err := fs.Remove(path); err != nil && !vfs.IsNotExist(err) {
				errs = errors.Join(errs, fmt.Errorf("checkpoint: remove %s: %w", path, err))
				continue
			}
			removed = true
		}
	}
	if removed {
		if err := fs.SyncDir(dir); err != nil {
			return errors.Join(errs, fmt.Errorf("checkpoint: fsync directory %s: %w", dir, err))
		}
	}
	return errs
}

// Reader reads a checkpoint file record by record, in constant memory
// (plus the largest record).
type Reader struct {
	f       vfs.File
	path    string
	size    int64
	br      *bufio.Reader
	lsn     base.LSN
	off     int64  // offset of the next frame
	last    int64  // offset of the frame Next returned last
	crc     uint32 // CRC32C of every byte before off
	records uint64
	hdr     [FrameHeaderSize]byte
	buf     []byte
	err     error // terminal result, returned again
}

// Open opens a checkpoint and checks its header.
func Open(fs vfs.FS, path string) (*Reader, error) {
	if fs == nil {
		fs = vfs.Default
	}
	f, err := vfs.OpenRegular(fs, path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", path, err)
	}
	size, err := f.Size()
	if err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return nil, fmt.Errorf("checkpoint: size of %s: %w", path, err)
	}
	r := &Reader{f: f, path: path, size: size}
	r.br = bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 256<<10)
	if err := r.readHeader(); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return nil, err
	}
	return r, nil
}

func (r *Reader) corrupt(off int64, format string, args ...any) error {
	return &corruption.Error{File: r.path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (r *Reader) readHeader() error {
	if r.size < HeaderSize {
		return r.corrupt(0, "file is %d bytes, shorter than the %d-byte header", r.size, HeaderSize)
	}
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return fmt.Errorf("checkpoint: read %s: %w", r.path, err)
	}
	if stored, computed := binary.LittleEndian.Uint32(h[20:]), crc32.Checksum(h[:20], castagnoli); stored != computed {
		return r.corrupt(0, "header checksum mismatch (stored %#08x, computed %#08x)", stored, computed)
	}
	if string(h[:8]) != magic {
		return r.corrupt(0, "bad magic %q", h[:8])
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != FormatVersion {
		return r.corrupt(8, "unsupported format version %d (want %d)", v, FormatVersion)
	}
	r.lsn = base.LSN(binary.LittleEndian.Uint64(h[12:]))
	// Retention and log trimming go by the LSN in the file name: a file
	// whose name says another LSN than its header (renamed by hand, or
	// restored under the wrong name) would make them remove log records
	// that no loadable checkpoint covers.
	if named, ok := parseName(filepath.Base(r.path)); ok && named != r.lsn {
		return r.corrupt(12, "file name says LSN %d, header says LSN %d", named, r.lsn)
	}
	r.crc = crc32.Update(0, castagnoli, h[:])
	r.off, r.last = HeaderSize, HeaderSize
	return nil
}

// LSN returns the LSN the checkpoint covers.
func (r *Reader) LSN() base.LSN { return r.lsn }

// Size returns the file's size in bytes: what a loader may bound the memory
// the records declare by.
func (r *Reader) Size() int64 { return r.size }

// Offset returns the offset of the frame of the record Next returned last
// (the header's size before the first), for errors that name the record.
func (r *Reader) Offset() int64 { return r.last }

// Remaining returns the bytes of the file after the record Next returned
// last, the trailer included.
func (r *Reader) Remaining() int64 { return r.size - r.off }

// Next returns the next record. The payload is valid until the next call.
// After the last record it verifies the trailer (count and whole-file CRC)
// and returns io.EOF; any failed check is a *corruption.Error.
func (r *Reader) Next() (kind uint8, payload []byte, err error) {
	if r.err != nil {
		return 0, nil, r.err
	}
	kind, payload, err = r.next()
	if err != nil {
		r.err = err
	}
	return kind, payload, err
}

func (r *Reader) next() (uint8, []byte, error) {
	off := r.off
	remaining := r.size - off
	if remaining < FrameHeaderSize {
		return 0, nil, r.corrupt(off, "truncated: %d bytes left where a record or the trailer must start", remaining)
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("checkpoint: read %s at %d: %w", r.path, off, err)
	}
	length := int64(binary.LittleEndian.Uint32(r.hdr[0:]))
	stored := binary.LittleEndian.Uint32(r.hdr[4:])
	kind := r.hdr[8]
	if length > MaxRecordBytes {
		return 0, nil, r.corrupt(off, "record length %d exceeds maximum %d", length, MaxRecordBytes)
	}
	if length > remaining-FrameHeaderSize {
		return 0, nil, r.corrupt(off, "truncated: record length %d, %d bytes left", length, remaining-FrameHeaderSize)
	}
	if int64(cap(r.buf)) < length {
		// Doubling, but never past what the file has left to hold.
		r.buf = make([]byte, length, min(max(length, 2*int64(cap(r.buf))), remaining-FrameHeaderSize))
	}
	payload := r.buf[:length]
	if _, err := io.ReadFull(r.br, payload); err != nil {
		return 0, nil, fmt.Errorf("checkpoint: read %s at %d: %w", r.path, off, err)
	}
	computed := crc32.Update(crc32.Update(0, castagnoli, r.hdr[8:9]), castagnoli, payload)
	if computed != stored {
		return 0, nil, r.corrupt(off, "record checksum mismatch (stored %#08x, computed %#08x)", stored, computed)
	}
	fileCRC := r.crc
	r.crc = crc32.Update(crc32.Update(r.crc, castagnoli, r.hdr[:]), castagnoli, payload)
	r.off = off + FrameHeaderSize + length
	r.last = off
	if kind != KindTrailer {
		r.records++
		return kind, payload, nil
	}
	if length != TrailerPayloadSize {
		return 0, nil, r.corrupt(off, "trailer payload is %d bytes, want %d", length, TrailerPayloadSize)
	}
	if n := binary.LittleEndian.Uint64(payload[0:]); n != r.records {
		return 0, nil, r.corrupt(off, "trailer says %d records, file holds %d", n, r.records)
	}
	if c := binary.LittleEndian.Uint32(payload[8:]); c != fileCRC {
		return 0, nil, r.corrupt(off, "whole-file checksum mismatch (trailer %#08x, computed %#08x)", c, fileCRC)
	}
	if r.off != r.size {
		return 0, nil, r.corrupt(r.off, "%d bytes after the trailer", r.size-r.off)
	}
	return 0, nil, io.EOF
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if r.err == nil {
		r.err = fmt.Errorf("checkpoint: reader of %s closed", r.path)
	}
	return err
}

// Verify reads a whole checkpoint and checks every frame and the trailer.
// A panic out of fs or the file (a caller's own vfs.FS) is returned as an
// error wrapping ErrFilePanicked, not corruption: it says nothing of the
// bytes (the bus verifies each checkpoint it wrote in invariants builds,
// on the checkpointing goroutine, where the panic ended the process).
func Verify(fs vfs.FS, path string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("checkpoint: verify %s: %w", path, panicError("file", v))
		}
	}()
	r, err := Open(fs, path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if _, _, err := r.Next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
