package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// The log-mode file records, beside a data directory's checkpoints, how
// their history continues: in log segments under wal/ (ModeLog), or
// nowhere (ModeNoLog, a bus opened with Options.DisableLog). It exists
// because an empty wal/ cannot tell "nothing past the newest checkpoint"
// from "every segment removed": with ModeLog, a wal/ without a segment is
// a removed log (a bus with a log always keeps one segment, see
// Options.KeepSegment). It lives in checkpoints/, not in wal/, so that
// `rm DIR/wal/*` does not remove it with the segments; removing
// checkpoints/ removes it with the state it describes.
//
// Format (docs/formats.md, "Log-mode file"), 16 bytes:
//
//	0   8  magic "MMSBLOGM"
//	8   1  version: 1 (ModeFormatVersion)
//	9   1  mode: 1 ModeLog, 2 ModeNoLog
//	10  2  zero
//	12  4  CRC-32C (Castagnoli) of bytes 0..11, little endian
const (
	ModeFileName      = "log-mode"
	ModeFormatVersion = 1
	modeFileSize      = 16
	modeMagic         = "MMSBLOGM"
)

// LossPendingFileName is the file, in the checkpoint directory beside the
// log-mode file (whose name it starts with, so that the commands take it
// for a bus's file), that marks a removed log an Open with Repair or
// DisableLog accepted and whose report of the loss has not reached a
// caller yet: the bus's Open makes it durable before it changes anything
// and removes it once it has reported the loss in Recovery().Log; mmsb.Replay,
// mmsb.QueryLogDir and `mmsb check` report a directory that holds it as one
// whose log was lost. Empty; only its presence counts.
const LossPendingFileName = ModeFileName + ".lost"

// Mode says how a data directory's history continues its checkpoints.
type Mode uint8

// The modes a log-mode file records (ModeUnknown: none recorded).
const (
	ModeUnknown Mode = 0 // no log-mode file: written before it existed, or never opened
	ModeLog     Mode = 1 // log segments under wal/
	ModeNoLog   Mode = 2 // no log (Options.DisableLog)
)

func (m Mode) String() string {
	switch m {
	case ModeLog:
		return "log"
	case ModeNoLog:
		return "no log"
	}
	return "unknown"
}

// ErrBadMode is a log-mode file that does not decode.
var ErrBadMode = errors.New("tlog: malformed log-mode file")

var modeCRC = crc32.MakeTable(crc32.Castagnoli)

func encodeMode(m Mode) []byte {
	b := make([]byte, modeFileSize)
	copy(b, modeMagic)
	b[8], b[9] = ModeFormatVersion, byte(m)
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], modeCRC))
	return b
}

// decodeMode decodes a log-mode file's bytes.
func decodeMode(b []byte) (Mode, error) {
	if len(b) != modeFileSize {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrBadMode, len(b), modeFileSize)
	}
	if !bytes.Equal(b[:8], []byte(modeMagic)) {
		return 0, fmt.Errorf("%w: magic %q, want %q", ErrBadMode, b[:8], modeMagic)
	}
	if got, want := binary.LittleEndian.Uint32(b[12:]), crc32.Checksum(b[:12], modeCRC); got != want {
		return 0, fmt.Errorf("%w: CRC %08x, want %08x", ErrBadMode, got, want)
	}
	if b[8] != ModeFormatVersion {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrBadMode, b[8], ModeFormatVersion)
	}
	m := Mode(b[9])
	if m != ModeLog && m != ModeNoLog {
		return 0, fmt.Errorf("%w: mode %d, want 1 (log) or 2 (no log)", ErrBadMode, b[9])
	}
	if b[10]|b[11] != 0 {
		return 0, fmt.Errorf("%w: reserved bytes %x, want zero", ErrBadMode, b[10:12])
	}
	return m, nil
}

// ReadMode reads the log-mode file of the checkpoint directory ckDir:
// ModeUnknown when there is none, an error (wrapping ErrBadMode) when it
// does not decode.
func ReadMode(fs vfs.FS, ckDir string) (Mode, error) {
	path := fs.Join(ckDir, ModeFileName)
	// A directory or a device under the file's name holds no mode:
	// malformed, as the bus reports a damaged one (Open said only "open
	// …: not a regular file", and WriteMode failed at its rename, leaving
	// its temporary).
	b, ok, err := readSmallFile(fs, path, modeFileSize, ErrBadMode)
	if err != nil || !ok {
		return ModeUnknown, err
	}
	m, err := decodeMode(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// readSmallFile reads the small file path of a fixed format size: ok is
// false when it does not exist; a file that is not a regular one is an
// error wrapping errBad. It reads one byte more than size, so that the
// format's decoder refuses a longer file and a huge one is not read
// whole.
func readSmallFile(fs vfs.FS, path string, size int, errBad error) (b []byte, ok bool, err error) {
	f, err := vfs.OpenRegular(fs, path)
	if vfs.IsNotExist(err) {
		return nil, false, nil
	}
	if errors.Is(err, vfs.ErrNotRegular) {
		return nil, false, fmt.Errorf("%w: %s: %w", errBad, path, err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("tlog: open %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read only
	b, err = io.ReadAll(io.LimitReader(f, int64(size)+1))
	if err != nil {
		return nil, false, fmt.Errorf("tlog: read %s: %w", path, err)
	}
	return b, true, nil
}

// WriteMode makes m the log-mode of the checkpoint directory ckDir, crash
// safely: a temporary file written and fsynced, renamed over the old one,
// and the directory fsynced. A crash leaves the old file or the new one
// (and perhaps the temporary, which the next write replaces). It writes
// nothing when the file already says m.
func WriteMode(fs vfs.FS, ckDir string, m Mode) error {
	if m != ModeLog && m != ModeNoLog {
		return fmt.Errorf("tlog: write log mode %d: want %d or %d", m, ModeLog, ModeNoLog)
	}
	path := fs.Join(ckDir, ModeFileName)
	tmp, alt := path+".tmp", path+modeAltTempSuffix
	cur, err := ReadMode(fs, ckDir)
	if errors.Is(err, vfs.ErrNotRegular) {
		// The rename below cannot replace it: say so before writing.
		return fmt.Errorf("%w (remove it)", err)
	}
	if err == nil && cur == m {
		// A crash during an earlier write may have left its temporary:
		// nothing reads it, but a directory's *.tmp files are taken for
		// unfinished work (the crash suite's check). What holds no file
		// under either name (a directory holding files: an operator's,
		// a restored backup tree) is none of ours, and passed over as
		// the log's leftover cleanup passes over one: before, its failed
		// removal failed every Open ("directory not empty"), though no
		// mode was to be written (TestWriteModeBesideDirectoryAtTemp).
		for _, t := range []string{tmp, alt} {
			if !fs.Exists(t) {
				continue
			}
			if err := fs.Remove(t); err != nil && !vfs.IsNotExist(err) && !notFile(fs, t) {
				return fmt.Errorf("tlog: remove %s: %w", t, err)
			}
		}
		return nil
	}
	if fs.Exists(tmp) && notFile(fs, tmp) {
		// Something that is no file sits under the temporary name (a
		// directory: not ours to empty): the mode is written through the
		// second one. Before, WriteMode failed on it, and with it Open.
		tmp = alt
	}
	// Through vfs.ReplaceFile, which also removes what a crash left
	// under tmp first (before, Create followed a symbolic link there and
	// truncated its target) and tmp after a failed step.
	if _, err := vfs.ReplaceFile(fs, path, tmp, func(f vfs.File) error {
		_, err := writeFull(f, encodeMode(m))
		return err
	}); err != nil {
		return fmt.Errorf("tlog: write log mode %s: %w", path, err)
	}
	if tmp != alt && fs.Exists(alt) && !notFile(fs, alt) {
		// A crash left the second temporary while a directory sat under
		// the first, since removed: it goes with this write, as the
		// same-mode path above removes it. Before, it stayed until an
		// Open wrote the mode the file already held, never while each
		// Open changed it (TestWriteModeRemovesLeftoverAltTemp).
		// Best effort: the mode is written.
		_ = fs.Remove(alt)
	}
	return nil
}

// HasSegment reports whether the log directory dir holds a segment file
// (by name; what it holds is recovery's to judge). A missing dir holds
// none.
func HasSegment(fs vfs.FS, dir string) (bool, error) {
	names, err := fs.List(dir)
	if vfs.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tlog: list %s: %w", dir, err)
	}
	for _, name := range names {
		if _, ok := ParseSegmentName(name); ok {
			return true, nil
		}
	}
	return false, nil
}

// Removal is what CheckRemoved found missing of a data directory's log.
type Removal uint8

// What CheckRemoved finds.
const (
	NotRemoved      Removal = iota // the log is there, or none is due
	DirRemoved                     // no wal/ at all
	SegmentsRemoved                // wal/ without a segment, where the log-mode file says a log continues the checkpoints, or (no log-mode file) its newest-segment file names one
)

// CheckRemoved is the one check of whether the log of a data directory
// was removed, for a directory whose checkpoint directory ckDir holds a
// checkpoint (the caller knows; without one nothing continues and nothing
// is due). It returns the directory's log mode too. A log-mode file that
// does not decode is an error wrapping ErrBadMode, and a walDir that is a
// dangling symbolic link is LogDirUnreachable's error.
//
//   - wal/ missing: DirRemoved (every bus makes wal/, a bus without a
//     log too), unless the mode is ModeNoLog: that bus's wal/ is always
//     empty, and a copy that drops empty directories lost nothing;
//   - wal/ without a segment and ModeLog: SegmentsRemoved. A bus with a
//     log keeps one segment (Options.KeepSegment) from the Open that
//     wrote ModeLog on;
//   - wal/ without a segment and no mode file (ModeUnknown), where
//     wal/newest-segment names a segment: SegmentsRemoved
//     (NewestWithoutSegment: the log rotated, and keeps a segment);
//   - wal/ without a segment and no mode file (ModeUnknown) otherwise:
//     not removed. Directories written before the file existed, a checkpoint
//     put beside an empty wal/ (mmsb replay --out, a replica's bootstrap)
//     read as a log holding nothing past the newest checkpoint, as they
//     did before; the first Open with a log gives them a segment and
//     ModeLog.
func CheckRemoved(fs vfs.FS, walDir, ckDir string) (Removal, Mode, error) {
	mode, err := ReadMode(fs, ckDir)
	if err != nil {
		return NotRemoved, 0, err
	}
	if !fs.Exists(walDir) {
		if err := LogDirUnreachable(fs, walDir); err != nil {
			return NotRemoved, mode, err // out of reach, not removed
		}
		if mode == ModeNoLog {
			// A bus without a log leaves wal/ empty, and copies drop
			// empty directories (object stores, archives, git): nothing
			// was in it, and nothing continues the checkpoints.
			return NotRemoved, mode, nil
		}
		// Every bus makes wal/, with a log or without.
		return DirRemoved, mode, nil
	}
	if mode == ModeUnknown {
		first, err := NewestWithoutSegment(fs, walDir)
		if err != nil {
			return NotRemoved, mode, err
		}
		if first != 0 {
			return SegmentsRemoved, mode, nil
		}
	}
	if mode != ModeLog {
		return NotRemoved, mode, nil
	}
	has, err := HasSegment(fs, walDir)
	if err != nil {
		return NotRemoved, mode, err
	}
	if !has {
		return SegmentsRemoved, mode, nil
	}
	return NotRemoved, mode, nil
}

// CreateEmptySegment makes the segment of dir starting at first, holding
// its header only, durably (file and directory fsynced). A log that
// restarts at first (the bus's restartLog) makes it before removing the
// old segments, so that no crash leaves the directory without one.
//
// The segment is written under a temporary name (the one Open removes as
// a leftover) and renamed into place: whatever was under its name already
// is replaced, never changed. Before, the name was opened with truncation
// before it was unshared, so a file there that a backup shared
// (a hard link from `cp -al`, or a symbolic link to an archived segment)
// was cut to nothing (TestCreateEmptySegmentKeepsSharedFile). A crash
// before the rename leaves no half-written segment either.
func CreateEmptySegment(fs vfs.FS, dir string, first base.LSN) error {
	path := fs.Join(dir, SegmentName(first))
	tmp := segmentTemp(fs, path)
	// vfs.ReplaceFile removes whatever a crash left under tmp first
	// (Create would follow a symbolic link there and truncate its
	// target), and tmp after a failed step (Open removes it as a
	// leftover too).
	if _, err := vfs.ReplaceFile(fs, path, tmp, func(f vfs.File) error {
		var hdr [SegmentHeaderSize]byte
		_, err := writeFull(f, appendSegmentHeader(hdr[:0], first))
		return err
	}); err != nil {
		return fmt.Errorf("tlog: create %s: %w", path, err)
	}
	// The newest segment from here on, where the file says which (see
	// NewestFileName): it may name a later one (an only empty segment
	// replaced).
	if cur, err := ReadNewest(fs, dir); cur == 0 && err == nil {
		return nil
	}
	return writeNewest(fs, dir, first)
}

// modeAltTempSuffix is added to the log-mode file's name for its
// temporary when the usual one (".tmp") holds a directory (WriteMode).
const modeAltTempSuffix = ".alt.tmp"

// altTempSuffix is added to a segment's name for its temporary copy
// when the usual name (delSuffix) holds a directory (segmentTemp). It
// ends in ".log" + delSuffix: recovery does not read it, and Open removes
// what a crash left under it (removeLeftovers).
const altTempSuffix = ".copy.log" + delSuffix

// segmentTemp returns the temporary name a new file for the segment at
// path is written under before it is renamed into place (vfs.Unshare's
// copy, CreateEmptySegment): path+delSuffix, the name removeSegment
// uses, unless something that is no file sits there (a directory holding
// files: an operator's, a restored backup tree, which removeLeftovers
// passes over and no one may empty): then path+altTempSuffix. Before,
// the copy's removal of what sat there failed ("directory not empty"),
// and Open failed on every segment it had to unshare, restart or cut
// (TestUnshareSegmentBesideDirectoryAtTemp). A name held by a directory
// under both names still fails, naming the second.
func segmentTemp(fs vfs.FS, path string) string {
	tmp := path + delSuffix
	if fs.Exists(tmp) && notFile(fs, tmp) {
		return path + altTempSuffix
	}
	return tmp
}
