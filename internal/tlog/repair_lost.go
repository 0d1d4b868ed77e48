package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// The repair-lost file, in the log directory, records the LSNs an Open
// with Repair gave up (RecoveryReport.LostFirstLSN, LostLastLSN) until
// the bus has reported them: recovery writes it, crash safely, before it
// changes a segment to cut the damage (a truncation, a removal), and the
// bus's Open removes it once it can no longer fail (Log.SettleNewest).
// Before, an Open with Repair that cut the log and then failed (a missing
// function, the shared region not published) left a log that ends
// cleanly where the cut was: the next Open, with Repair or without,
// reported nothing lost, or (a newest segment cut away) only the LSNs
// past the log's end, with their end unknown
// (TestSecondRepairReportsFirstRepairsLoss). Every Open that finds it
// reports what it records (with what it finds itself), and so do Replay
// and QueryLogDir (they read through Open's recovery rules) — until a
// record in the log, or the checkpoint recovery starts from, holds a
// lost LSN: the bus committed since (a crash
// after the file's removal, before the directory's sync, brought it
// back), and the file is stale, passed over and removed with the next
// settle.
//
// Format (docs/formats.md, "Repair-lost file"), 32 bytes:
//
//	0   8  magic "MMSBTLRL"
//	8   4  version: 1 (RepairLostFormatVersion), little endian
//	12  8  first LSN lost, little endian (not 0)
//	20  8  last LSN lost, little endian (LostUnknown, all ones: not known)
//	28  4  CRC-32C (Castagnoli) of bytes 0..27, little endian
//
// A file that does not decode records a loss whose range is not known:
// recovery reports the LSNs from the one after its checkpoint's on lost
// (LostUnknown), and Repair writes it again whole.
const (
	RepairLostFileName      = "repair-lost"
	RepairLostFormatVersion = 1
	repairLostFileSize      = 32
	repairLostMagic         = "MMSBTLRL"
)

// ErrBadRepairLost is a repair-lost file that does not decode.
var ErrBadRepairLost = errors.New("tlog: malformed repair-lost file")

func encodeRepairLost(first, last base.LSN) []byte {
	b := make([]byte, repairLostFileSize)
	copy(b, repairLostMagic)
	binary.LittleEndian.PutUint32(b[8:], RepairLostFormatVersion)
	binary.LittleEndian.PutUint64(b[12:], uint64(first))
	binary.LittleEndian.PutUint64(b[20:], uint64(last))
	binary.LittleEndian.PutUint32(b[28:], crc32.Checksum(b[:28], castagnoli))
	return b
}

func decodeRepairLost(b []byte) (first, last base.LSN, err error) {
	if len(b) != repairLostFileSize {
		return 0, 0, fmt.Errorf("%w: %d bytes, want %d", ErrBadRepairLost, len(b), repairLostFileSize)
	}
	if !bytes.Equal(b[:8], []byte(repairLostMagic)) {
		return 0, 0, fmt.Errorf("%w: bad magic %q", ErrBadRepairLost, b[:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[28:]), crc32.Checksum(b[:28], castagnoli); got != want {
		return 0, 0, fmt.Errorf("%w: CRC %08x, want %08x", ErrBadRepairLost, got, want)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != RepairLostFormatVersion {
		return 0, 0, fmt.Errorf("%w: version %d, want %d", ErrBadRepairLost, v, RepairLostFormatVersion)
	}
	first, last = base.LSN(binary.LittleEndian.Uint64(b[12:])), base.LSN(binary.LittleEndian.Uint64(b[20:]))
	if first == 0 || last < first {
		return 0, 0, fmt.Errorf("%w: LSNs %d..%d", ErrBadRepairLost, first, last)
	}
	return first, last, nil
}

// ReadRepairLost reads the repair-lost file of the log directory dir: the
// LSNs it records lost (0, 0 when there is none), an error wrapping
// ErrBadRepairLost when it does not decode (or is no regular file).
func ReadRepairLost(fs vfs.FS, dir string) (first, last base.LSN, err error) {
	path := fs.Join(dir, RepairLostFileName)
	b, ok, err := readSmallFile(fs, path, repairLostFileSize, ErrBadRepairLost)
	if err != nil || !ok {
		return 0, 0, err
	}
	if first, last, err = decodeRepairLost(b); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return first, last, nil
}

// mergeLost is the range that covers the lost ranges a and b (first 0:
// none), LostUnknown where either's end is not known.
func mergeLost(aFirst, aLast, bFirst, bLast base.LSN) (base.LSN, base.LSN) {
	switch {
	case aFirst == 0:
		return bFirst, bLast
	case bFirst == 0:
		return aFirst, aLast
	}
	return min(aFirst, bFirst), max(aLast, bLast) // LostUnknown is the greatest LSN
}

// markRepairLost records, before Repair changes a segment, the loss the
// report holds, with any that an earlier Repair recorded and no Open
// reported yet (rc.markFirst, rc.markLast), durably. cut is the first LSN
// the cut drops: the log (or the checkpoint recovery started from) holds
// those before it, so a recorded loss from before cut on is stale (the
// bus committed after the Open that reported it) and is not merged in.
// Merged, the file recorded LSNs the log holds, and the next Open read it
// as stale and reported nothing of this cut
// (TestRepairDoesNotMergeStaleRepairLost).
func (rc *recovery) markRepairLost(cut base.LSN) error {
	if rc.markFirst != 0 && rc.markFirst < cut {
		rc.markFirst, rc.markLast = 0, 0
	}
	first, last := mergeLost(rc.report.LostFirstLSN, rc.report.LostLastLSN, rc.markFirst, rc.markLast)
	if first == 0 {
		return nil
	}
	path := rc.opts.FS.Join(rc.opts.Dir, RepairLostFileName)
	if _, err := vfs.ReplaceFile(rc.opts.FS, path, path+".tmp", func(f vfs.File) error {
		_, err := writeFull(f, encodeRepairLost(first, last))
		return err
	}); err != nil {
		return fmt.Errorf("tlog: repair: record the LSNs it gives up in %s before cutting the log: %w", path, err)
	}
	return nil
}

// readRepairLost reads the repair-lost file for recovery (rc.markFirst,
// rc.markLast): a file that does not decode records a loss from the LSN
// after the checkpoint recovery starts from on, its end unknown.
func (rc *recovery) readRepairLost() error {
	first, last, err := ReadRepairLost(rc.opts.FS, rc.opts.Dir)
	if errors.Is(err, ErrBadRepairLost) {
		first, last, err = rc.replayFrom+1, LostUnknown, nil
	}
	if err != nil {
		return err
	}
	rc.markFirst, rc.markLast = first, last
	return nil
}

// reportRepairLost adds the loss the repair-lost file records to the
// report, once the walk knows where the log ends: unless a record holds
// an LSN it records lost, or the checkpoint recovery started from does
// (a stale file: the Repair that wrote it recorded LSNs past its
// checkpoint only, so the bus committed since), and only the LSNs past
// that checkpoint (the state holds the others). A checkpoint past the
// file's first LSN beside a log without a record (a bus without a log
// committed and checkpointed since) made an Open report the LSNs past it
// lost, which nothing had lost (TestDisableLogReportsRepairLost).
func (rc *recovery) reportRepairLost() {
	first, last := rc.markFirst, rc.markLast
	if first == 0 || rc.hasLast && rc.lastLSN >= first || rc.replayFrom >= first {
		return
	}
	first = max(first, rc.replayFrom+1)
	if last < first {
		return
	}
	rc.report.LostFirstLSN, rc.report.LostLastLSN = mergeLost(rc.report.LostFirstLSN, rc.report.LostLastLSN, first, last)
}

// repairLostCovers reports whether a loss recorded in the repair-lost
// file (first..last) accounts for the segments missing past the log's end
// where the newest-segment file names newest (0: none that decodes) and
// the log continues at next: the recorded loss starts there (not stale,
// leaving no gap) and reaches newest, so the cut that recorded it removed
// the segments the file names, and counted what they held. Read as a loss
// whose end is unknown, merged with the file's, the report ended with
// LostUnknown where the file recorded the real end
// (TestRepairLostKeepsKnownEndPastRemovedSegments).
func repairLostCovers(first, last, newest, next base.LSN) bool {
	return first != 0 && newest != 0 && first == next && last >= newest
}

// RepairLostCovers is repairLostCovers for the log directory dir, read from
// its files: whether the repair-lost file records the loss of the segments
// its newest-segment file names past the log's end, the log continuing at
// next. A file that does not decode covers nothing.
func RepairLostCovers(fs vfs.FS, dir string, next base.LSN) bool {
	first, last, err := ReadRepairLost(fs, dir)
	if err != nil {
		return false
	}
	newest, err := ReadNewest(fs, dir)
	if err != nil {
		return false
	}
	return repairLostCovers(first, last, newest, next)
}

// PendingRepairLoss is the loss the repair-lost file of the log directory
// dir records and the next Open reports, for a reader of the directory's
// files (`mmsb check`, the integrity validator): the LSNs from first to
// last (last LostUnknown: its end not known), (0, 0) where there is no
// file or it is stale. checkpoint is the newest checkpoint's LSN (0:
// none) and logLast the last LSN a record of the log holds (0: none):
// one of them at or past the first LSN recorded says the bus committed
// since (stale, as recovery reads it), and only LSNs past checkpoint are
// reported. A file that does not decode records a loss from checkpoint+1
// on, its end unknown. An error only where the file cannot be read.
func PendingRepairLoss(fs vfs.FS, dir string, checkpoint, logLast base.LSN) (first, last base.LSN, err error) {
	first, last, err = ReadRepairLost(fs, dir)
	if errors.Is(err, ErrBadRepairLost) {
		first, last, err = checkpoint+1, LostUnknown, nil
	}
	if err != nil || first == 0 || logLast >= first || checkpoint >= first {
		return 0, 0, err
	}
	return first, last, nil
}

// RepairLostWarning says, for `mmsb check` and the integrity validator,
// what a pending loss (PendingRepairLoss) of a log directory means:
// not damage (the files are whole), but commits an Open with Repair gave
// up and no caller was told of yet.
func RepairLostWarning(first, last base.LSN) string {
	lsns := fmt.Sprintf("the operations committed at LSNs %d to %d", first, last)
	if first == last {
		lsns = fmt.Sprintf("the operation committed at LSN %d", first)
	}
	if last == LostUnknown {
		lsns = fmt.Sprintf("the operations committed from LSN %d on (how many is not known)", first)
	}
	return fmt.Sprintf("an Open with Options.Repair cut the log at damage and failed before it reported the loss: %s are lost, and the log ends before them "+
		"(the next Open that succeeds reports them in Recovery().Log and removes %s; the next commits take their LSNs)",
		lsns, RepairLostFileName)
}

// settleRepairLost removes the repair-lost file, its loss reported (the
// bus's Open can no longer fail), and syncs the directory.
func (l *Log) settleRepairLost() error {
	path := l.fs.Join(l.dir, RepairLostFileName)
	if !l.fs.Exists(path) {
		return nil
	}
	return removeSynced(l.fs, l.dir, path)
}
