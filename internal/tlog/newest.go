package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// The newest-segment file, in the log directory, names the first LSN of
// the newest segment the log made. Nothing else records where the log
// ended: with its newest segment deleted (by hand, a bad backup restore),
// Open recovered to the end of the segment before it and reported
// nothing, the operations committed in the deleted one gone without a
// word, the next commits reusing their LSNs. Open now refuses a log whose
// newest segment is older than the file names (a *corruption.Error naming
// the file; Repair accepts it and reports the LSNs from the log's end on
// lost): TestOpenRefusesRemovedNewestSegment.
//
// It is written (vfs.ReplaceFile: a temporary fsynced and renamed, the
// directory fsynced) after a new segment made beside an older one (a
// rotation) is durable (header and directory fsynced) and before the first
// record goes into it, so it never names a segment that does not exist: a
// crash before it leaves it naming an older one, which is no loss (the
// segments only grow past it). An only segment needs none: removed, it
// leaves a log directory without a segment, which the log-mode file tells
// from an empty log. A log directory without the file (written before it
// existed, or never rotated) opens as before; the next rotation writes it.
//
// Format (docs/formats.md, "Newest-segment file"), 24 bytes:
//
//	0   8  magic "MMSBTLNS"
//	8   4  version: 1 (NewestFormatVersion), little endian
//	12  8  first LSN of the newest segment, little endian
//	20  4  CRC-32C (Castagnoli) of bytes 0..19, little endian
const (
	NewestFileName      = "newest-segment"
	NewestFormatVersion = 1
	newestFileSize      = 24
	newestMagic         = "MMSBTLNS"
)

// ErrBadNewest is a newest-segment file that does not decode.
var ErrBadNewest = errors.New("tlog: malformed newest-segment file")

func encodeNewest(first base.LSN) []byte {
	b := make([]byte, newestFileSize)
	copy(b, newestMagic)
	binary.LittleEndian.PutUint32(b[8:], NewestFormatVersion)
	binary.LittleEndian.PutUint64(b[12:], uint64(first))
	binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	return b
}

func decodeNewest(b []byte) (base.LSN, error) {
	if len(b) != newestFileSize {
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrBadNewest, len(b), newestFileSize)
	}
	if !bytes.Equal(b[:8], []byte(newestMagic)) {
		return 0, fmt.Errorf("%w: bad magic %q", ErrBadNewest, b[:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[20:]), crc32.Checksum(b[:20], castagnoli); got != want {
		return 0, fmt.Errorf("%w: CRC %08x, want %08x", ErrBadNewest, got, want)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != NewestFormatVersion {
		return 0, fmt.Errorf("%w: version %d, want %d", ErrBadNewest, v, NewestFormatVersion)
	}
	first := base.LSN(binary.LittleEndian.Uint64(b[12:]))
	if first == 0 {
		return 0, fmt.Errorf("%w: first LSN 0", ErrBadNewest)
	}
	return first, nil
}

// ReadNewest reads the newest-segment file of the log directory dir: the
// first LSN it names, 0 when there is none, an error wrapping
// ErrBadNewest when it does not decode (or is no regular file).
func ReadNewest(fs vfs.FS, dir string) (base.LSN, error) {
	path := fs.Join(dir, NewestFileName)
	b, ok, err := readSmallFile(fs, path, newestFileSize, ErrBadNewest)
	if err != nil || !ok {
		return 0, err
	}
	first, err := decodeNewest(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return first, nil
}

// writeNewest makes first the newest-segment file's LSN, crash safely.
func writeNewest(fs vfs.FS, dir string, first base.LSN) error {
	path := fs.Join(dir, NewestFileName)
	if _, err := vfs.ReplaceFile(fs, path, path+".tmp", func(f vfs.File) error {
		_, err := writeFull(f, encodeNewest(first))
		return err
	}); err != nil {
		return fmt.Errorf("tlog: write %s: %w", path, err)
	}
	return nil
}

// NewestMissing compares the newest-segment file of the log directory dir
// with its segments: the segment name the file gives when it names an LSN
// past the newest segment's first (the log's newest segment, or more, was
// removed), "" otherwise. A file that does not decode is an error wrapping
// ErrBadNewest. A log with no segment is not checked: the bus decides what
// an emptied log means (CheckRemoved, FilesLost), and its next segment
// rewrites the file.
//
// It reads the file before it lists the segments: a log being written
// beside it (a replay of a live bus) makes a segment before the file names
// it, so a rotation in between does not read as a removed segment.
func NewestMissing(fs vfs.FS, dir string) (string, error) {
	first, err := ReadNewest(fs, dir)
	if err != nil || first == 0 {
		return "", err
	}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return "", err
	}
	return missingPast(first, segs), nil
}

// CheckNewest is NewestMissing as the refusal every reader of the log
// directory dir gives (Open, mmsb.Replay, QueryLogDir, an Open without a
// log, `mmsb check`, the integrity validator), worded here once: a
// *corruption.Error naming the newest-segment file. Where the file names
// a segment past the newest in dir, its Reason names that segment (once)
// and says what to do; where the file does not decode, it wraps the
// error, and so ErrBadNewest. nil when the log is whole (or holds no
// segment); another error (a read or listing that failed) as it is.
func CheckNewest(fs vfs.FS, dir string) error {
	first, err := ReadNewest(fs, dir)
	if errors.Is(err, ErrBadNewest) {
		return badNewest(fs, dir, err)
	}
	if err != nil || first == 0 {
		return err
	}
	segs, err := listSegments(fs, dir)
	if err != nil {
		return err
	}
	return newestMissing(fs, dir, first, segs)
}

// newestMissing is CheckNewest's refusal of segs, the segments of dir,
// where the newest-segment file names first, past the newest of them;
// nil where it does not. Two things leave it: the segments from the one
// named on deleted (by hand, a bad restore), which a copy restores; and
// an Open with Repair that cut the log at damage before the newest
// segment (removing those after it) and failed before it rewrote the
// file (Log.SettleNewest): nothing restores those, and the advice to
// restore them was the only one the refusal gave
// (TestRepairCutThenFailedOpenAdvice). Repair accepts either loss. Nothing
// in the directory tells the two apart, so the refusal names both, and
// says that Repair gives up segments a restore would have brought back:
// the advice to open it with Repair again, read by one who deleted them,
// lost them without a word.
func newestMissing(fs vfs.FS, dir string, first base.LSN, segs []segment) error {
	name := missingPast(first, segs)
	if name == "" {
		return nil
	}
	newest := SegmentName(segs[len(segs)-1].first)
	return &corruption.Error{File: fs.Join(dir, NewestFileName), Offset: -1, Reason: fmt.Sprintf(
		"names segment %s as the newest the log made, which is missing (the newest in %s is %s): the segments from it on were removed, and with them the operations committed in them "+
			"(deleted or left out of a restore: restore them into %s before any Open with Options.Repair, which gives them up for good; "+
			"only if an Open with Options.Repair cut the log at damage and then failed are they gone already: open it with Repair again. "+
			"A copy of a running bus's directory (cp -a, tar) made while its log moved to a new segment looks the same: it is no backup; take one with `mmsb replay DIR --out BACKUP` beside the writer, or copy the directory with the writer stopped (docs/operations.md, \"Backups\"). "+
			"Repair accepts the loss: the log then ends where %s does, and the next commits take the lost LSNs; docs/operations.md, \"Recovery\")",
		name, dir, newest, dir, newest)}
}

// badNewest is CheckNewest's refusal of a newest-segment file of dir
// that does not decode (err, wrapping ErrBadNewest).
func badNewest(fs vfs.FS, dir string, err error) error {
	return &corruption.Error{File: fs.Join(dir, NewestFileName), Offset: -1,
		Reason: "the log's record of its newest segment does not decode, so whether its newest segments were removed cannot be told (Options.Repair accepts the log as it is, and rewrites the file)", Err: err}
}

// missingPast is the segment name of first when it is past the first LSN
// of the newest of segs, "" otherwise (and when segs is empty).
func missingPast(first base.LSN, segs []segment) string {
	if len(segs) == 0 || first <= segs[len(segs)-1].first {
		return ""
	}
	return SegmentName(first)
}

// checkNewest is NewestMissing for Open, on the segments listed: a removed
// newest segment, or a file that does not decode, is CheckNewest's
// refusal; under Repair, true (the loss is reported once the walk knows
// where the log ends, and SettleNewest rewrites the file).
func (rc *recovery) checkNewest(segs []segment) (bool, error) {
	fs, dir := rc.opts.FS, rc.opts.Dir
	if len(segs) == 0 {
		return false, nil
	}
	first, err := ReadNewest(fs, dir)
	if errors.Is(err, ErrBadNewest) {
		if rc.opts.Repair {
			return true, nil
		}
		return false, badNewest(fs, dir, err)
	}
	if err != nil {
		return false, err
	}
	rc.newest = first
	if missingPast(first, segs) == "" {
		return false, nil
	}
	if rc.opts.Repair {
		return true, nil
	}
	return false, newestMissing(fs, dir, first, segs)
}

// SettleNewest rewrites the newest-segment file to name the log's newest
// segment where it names a later one (a removed segment Repair accepted,
// segments Repair cut) or does not decode. Open leaves the file as it was,
// so that an Open that accepted the loss and failed after leaves it to
// the next Open to find again: the bus calls SettleNewest once its Open
// can no longer fail, as it removes its loss mark.
//
// It then removes the repair-lost file (RepairLostFileName): the loss it
// records is reported by the Open that settles.
func (l *Log) SettleNewest() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	if err := l.settleNewest(); err != nil {
		return err
	}
	return l.settleRepairLost()
}

func (l *Log) settleNewest() error {
	if len(l.segs) == 0 {
		return nil
	}
	newest := l.segs[len(l.segs)-1].first
	first, err := ReadNewest(l.fs, l.dir)
	if err == nil && first <= newest {
		return nil
	}
	if err != nil && !errors.Is(err, ErrBadNewest) {
		return err
	}
	return writeNewest(l.fs, l.dir, newest)
}

// NamedHeaderTorn is the reason, added to that of a damaged header, why a
// last segment named first holding only what a crash leaves while a header
// is written (zeros, nothing, part of its header) is damage where the
// newest-segment file names it: every writer of the file names a segment
// only once its header is durable (a rotation fsyncs the header and the
// directory first, CreateEmptySegment renames a whole segment into place,
// and recovery replaces an only empty segment the same way), so no crash
// left it so; it was cut or overwritten, and whatever was committed in it
// went with it. Read as a crash's, the only segment cut to nothing opened
// at the checkpoint and reported nothing lost
// (TestOpenRefusesNewestSegmentCutToNothing). A directory whose file names
// no segment (one that never rotated, or written before the file existed)
// cannot tell: there such a segment is still read as a crash's.
func NamedHeaderTorn(first base.LSN) string {
	return fmt.Sprintf(" in the last segment, named for LSN %d, which %s names as the newest segment the log made: its header was durable before that file named it, so no crash left it so; it was cut or overwritten, and the operations committed in it are lost "+
		"(restore it from a backup before any Open with Options.Repair, which accepts the loss: the log then ends before LSN %d, and the next commits take the lost LSNs; "+
		"a copy of a running bus's directory (cp -a, tar) made while its log moved to a new segment looks the same: it is no backup, take one with `mmsb replay DIR --out BACKUP` beside the writer, or copy the directory with the writer stopped, docs/operations.md \"Backups\")",
		first, NewestFileName, first)
}

// NewestWithoutSegment is the first LSN the newest-segment file of the
// log directory dir names where dir holds no segment: 0 where it holds
// one, or where the file names none (or does not decode: CheckNewest
// refuses that). Only a rotation writes the file first (and what made a
// segment beside it after), and the log keeps a segment from then on
// (a bus without a log removes the file before its segments), so a log
// directory holding the file and no segment was emptied: its segments
// were removed, with every operation committed in them. CheckRemoved and
// FilesLost read it so where no log-mode file says so (removed with
// them, or written before it existed): such a directory read as a log
// holding nothing past the newest checkpoint, and Open reported no loss
// (TestEmptiedLogWithoutModeFileRefused).
func NewestWithoutSegment(fs vfs.FS, dir string) (base.LSN, error) {
	has, err := HasSegment(fs, dir)
	if err != nil || has {
		return 0, err
	}
	first, err := ReadNewest(fs, dir)
	if errors.Is(err, ErrBadNewest) {
		return 0, nil
	}
	return first, err
}

// NewestWithoutSegmentError is the refusal of a log directory dir that
// NewestWithoutSegment finds emptied (its newest-segment file naming
// first), in CheckNewest's words: a *corruption.Error naming the file.
func NewestWithoutSegmentError(fs vfs.FS, dir string, first base.LSN) error {
	return &corruption.Error{File: fs.Join(dir, NewestFileName), Offset: -1, Reason: fmt.Sprintf(
		"names segment %s as the newest the log made, which is missing (%s holds no segment): the segments were removed, and with them the operations committed in them, those after the newest checkpoint lost "+
			"(deleted or left out of a restore: restore them into %s before any Open with Options.Repair, which gives them up for good. "+
			"Repair accepts the loss: the state is then the newest checkpoint's (empty without one), and the next commits take the lost LSNs; docs/operations.md, \"Recovery\")",
		SegmentName(first), dir, dir)}
}
