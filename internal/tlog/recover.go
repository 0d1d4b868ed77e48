package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// recovery is the state of one Open: it walks the segments, replays, and
// repairs the directory (torn tail truncation, Repair mode).
type recovery struct {
	opts       Options
	replayFrom base.LSN
	fn         func(r *Record) error

	segs       []segment // segments that remain after recovery
	hasLast    bool
	lastLSN    base.LSN
	activeSize int64    // size of the last segment if it holds records, else 0
	newest     base.LSN // the LSN the newest-segment file names (0: none, or it does not decode)
	report     RecoveryReport

	// markFirst, markLast: the loss the repair-lost file records (0:
	// none); unknownFrom: where a cut's caller reports the loss from,
	// its end unknown, when the cut finds none to report itself.
	markFirst, markLast, unknownFrom base.LSN

	sc  scanner
	rec Record
}

// errStop ends the walk early without failing (Repair dropped the rest).
var errStop = errors.New("stop")

func (rc *recovery) run() error {
	fs := rc.opts.FS
	segs, err := listSegments(fs, rc.opts.Dir)
	if err != nil {
		return err
	}
	rc.segs = segs
	missing, err := rc.checkNewest(segs)
	if err != nil {
		return err
	}
	if err := rc.readRepairLost(); err != nil {
		return err
	}
	var expected base.LSN // next LSN due; 0 while unknown
	for i := 0; i < len(rc.segs); i++ {
		err := rc.segment(i, &expected)
		if errors.Is(err, errStop) {
			break
		}
		if err != nil {
			return err
		}
	}
	if missing && rc.report.LostFirstLSN == 0 {
		// Repair accepted removed newest segments: the commits from
		// the log's end on are gone, how many not known, unless the
		// repair-lost file records their loss (an earlier Repair cut
		// them away and failed before it rewrote the newest-segment
		// file): its end is the real one.
		next := rc.replayFrom + 1
		if rc.hasLast {
			next = max(next, rc.lastLSN+1)
		}
		if !repairLostCovers(rc.markFirst, rc.markLast, rc.newest, next) {
			rc.report.LostFirstLSN, rc.report.LostLastLSN = next, LostUnknown
		}
	}
	rc.reportRepairLost()
	return nil
}

// segment recovers segment i. expected is the LSN the segment must start
// at (0 if unknown, e.g. after a skipped segment); it is advanced.
func (rc *recovery) segment(i int, expected *base.LSN) error {
	fs := rc.opts.FS
	seg := rc.segs[i]
	isLast := i == len(rc.segs)-1
	// A name that holds no regular file is corruption that Repair does
	// not cut away either: no crash or bad disk leaves one, and there is
	// nothing to truncate.
	f, err := openSegmentFile(fs, seg.path)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	size, err := f.Size()
	if err != nil {
		return fmt.Errorf("tlog: size of %s: %w", seg.path, err)
	}
	sc := &rc.sc
	sc.init(f, seg.path, size)
	hfirst, reason, err := sc.readHeader()
	if err != nil {
		return err
	}
	if reason != "" && isLast {
		// A crash between creating a segment and making its header durable
		// leaves a short or zero-filled file, and a failed (short) write of
		// the header leaves part of it. It holds no records; but a segment
		// is made only where the log continues: named past that, it
		// follows a gap, which no crash leaves (ContinuesLog).
		torn, err := tornHeader(f, seg, size)
		if err != nil {
			return err
		}
		if end := dueLSN(*expected, seg.first) - 1; torn && i > 0 && end < rc.replayFrom && ContinuesLog(seg.first, *expected, rc.replayFrom+1) {
			// Dropped, the log would end before the checkpoint, which
			// proves the segment's first LSN durable, header and all:
			// damage, as a torn record there is. The segment was
			// removed, then the Open refused, and Repair reported
			// nothing lost (TestOpenRefusesTornHeaderBeforeCheckpoint).
			// The only segment (i == 0) is left to the rule below: a
			// replica's bootstrap puts a checkpoint beside an empty one
			// whose header a crash may have torn.
			reason += fmt.Sprintf(" in the last segment, named for LSN %d: the log would end there at LSN %d, before the checkpoint recovery starts from (LSN %d), whose LSNs the log held durably: damage, not a crash", seg.first, end, rc.replayFrom)
			// What followed the checkpoint is not known.
			rc.unknownFrom = rc.replayFrom + 1
			return rc.corrupt(i, 0, reason, *expected)
		}
		if torn && seg.first == rc.newest && ContinuesLog(seg.first, *expected, rc.replayFrom+1) {
			// The newest-segment file names it: its header was durable
			// (NamedHeaderTorn). Dropped as a crash's, the newest
			// segment cut to nothing opened at the checkpoint, or at the
			// end of the segment before, and the commits it held went
			// without a word (TestOpenRefusesNewestSegmentCutToNothing).
			reason += NamedHeaderTorn(seg.first)
			// What it held is not known.
			rc.unknownFrom = max(dueLSN(*expected, seg.first), rc.replayFrom+1)
			return rc.corrupt(i, 0, reason, *expected)
		}
		if torn && ContinuesLog(seg.first, *expected, rc.replayFrom+1) {
			rc.report.TornFile, rc.report.TornOffset, rc.report.TornBytes = seg.path, 0, size
			return rc.dropEmptyLast(i, *expected)
		}
		if torn {
			reason += fmt.Sprintf(" in the last segment, named for LSN %d where the log continues at LSN %d: no crash leaves that (a segment is made where the log continues), so the segments holding the LSNs between are missing",
				seg.first, dueLSN(*expected, rc.replayFrom+1))
		}
	}
	if reason == "" && hfirst != seg.first {
		reason = fmt.Sprintf("segment header first LSN %d does not match file name (LSN %d)", hfirst, seg.first)
	}
	if reason == "" && *expected != 0 && hfirst != *expected {
		reason = fmt.Sprintf("LSN gap: segment starts at LSN %d, previous record ended at %d", hfirst, *expected-1)
	}
	if reason != "" {
		return rc.corrupt(i, 0, reason, *expected)
	}
	if !isLast && rc.segs[i+1].first-1 <= rc.replayFrom {
		// Every LSN here precedes the next segment's first, so nothing is
		// replayed from this segment; its successor's header is checked
		// against its name, not against this segment's last record.
		*expected = 0
		return nil
	}
	*expected = hfirst
	records := 0
	for {
		st, err := sc.next()
		if err != nil {
			return err
		}
		switch st {
		case frameEOF:
			if records == 0 && isLast && i == 0 && rc.opts.KeepSegment && seg.first > rc.replayFrom+1 {
				// The only segment, its header whole and no record,
				// named past where the log continues: a segment is made
				// only where the log continues (a rotation once the log
				// reached the LSN before its first, a restart beside a
				// checkpoint at it, a first Open at LSN 1), so it
				// follows a gap, the segments before it removed, as a
				// torn header there does (ContinuesLog). Dropped as a
				// crash's, the bus opened at the checkpoint (empty
				// without one), the commits gone without a word
				// (TestOpenRefusesOnlySegmentCutToHeader). Only the bus's
				// log (KeepSegment): its segments go only where a
				// checkpoint covers them, and replayFrom is that
				// checkpoint's LSN; a bare log trimmed by RemoveThrough
				// and read from 0 is not. One named at or before the
				// checkpoint's LSN is left to dropEmptyLast: a replica's
				// bootstrap puts a checkpoint beside a new bus's empty
				// segment, which the files cannot tell from a cut one
				// (docs/crash.md).
				rc.unknownFrom = rc.replayFrom + 1
				return rc.corrupt(i, 0, fmt.Sprintf("the only segment holds its header and no record, named for LSN %d where the log continues at LSN %d: no crash leaves that (a segment is made where the log continues), so the segments holding the LSNs between are missing",
					seg.first, rc.replayFrom+1), 0)
			}
			if records == 0 && isLast {
				return rc.dropEmptyLast(i, *expected)
			}
			rc.hasLast, rc.lastLSN = true, *expected-1
			if isLast {
				rc.activeSize = size
			}
			return nil
		case frameOK:
			if err := rc.good(i, expected); err != nil {
				return err
			}
			records++
			continue
		}
		if isLast {
			torn, err := sc.tornAt(st)
			if err != nil {
				return err
			}
			if torn && *expected-1 < rc.replayFrom {
				// Cut there, the log would end before the checkpoint
				// recovery starts from, which is taken only once the log
				// durably holds its LSN: no crash tears a record it
				// proves durable. Cut as a torn tail, the commits after
				// the checkpoint went without a word
				// (TestOpenRefusesTornTailBeforeCheckpoint); Repair cuts
				// it and reports them lost.
				sc.reason += fmt.Sprintf("; the log would end there at LSN %d, before the checkpoint recovery starts from (LSN %d), whose LSNs the log held durably: damage, not a torn tail", *expected-1, rc.replayFrom)
				return rc.corrupt(i, sc.frameOff, sc.reason, *expected)
			}
			if torn {
				off := sc.frameOff
				if err := truncateFile(fs, seg.path, off); err != nil {
					return err
				}
				rc.report.TornFile, rc.report.TornOffset, rc.report.TornBytes = seg.path, off, size-off
				if records == 0 {
					return rc.dropEmptyLast(i, *expected)
				}
				rc.hasLast, rc.lastLSN, rc.activeSize = true, *expected-1, off
				return nil
			}
		}
		off, reason := sc.frameOff, sc.reason
		skip, err := sc.skipCovered(*expected, rc.replayFrom+1)
		if err != nil {
			return err
		}
		if !skip {
			return rc.corrupt(i, sc.frameOff, sc.reason, *expected)
		}
		// A damaged record whose LSNs the checkpoint recovered from
		// covers: reported, kept (Check and the validators still name
		// it), and recovery goes on with the intact record after it.
		if rc.report.CoveredDamage == 0 {
			rc.report.CoveredDamageFile, rc.report.CoveredDamageOffset, rc.report.CoveredDamageReason = seg.path, off, reason
		}
		rc.report.CoveredDamage++
		*expected = sc.first
		if err := rc.good(i, expected); err != nil {
			return err
		}
		records++
	}
}

// ContinuesLog reports whether a last segment named first, whose header
// is torn, is one that a crash leaves: one made where the log continues.
// expected is the LSN the log's previous record ended before (0 when
// unknown: no segment before it was read), from the first LSN the reader
// was asked for (recovery: the one after the checkpoint's). A segment is
// only ever made at the LSN after the log's last (a rotation, a first
// Open, recovery's new segment beside a checkpoint), so one named past
// that follows a gap: the segments holding the LSNs in between are gone.
// Read as the log's end, such a torn header hid their loss from Open,
// Replay and a DisableLog Open alike, and the next commits took their
// LSNs (TestTornHeaderAfterGapIsCorruption); with its header whole, the
// same gap is corruption ("LSN gap: segment starts at LSN …").
func ContinuesLog(first, expected, from base.LSN) bool {
	return first <= dueLSN(expected, from)
}

// dueLSN is the LSN at which a log read from from continues, expected
// being the one its last record ended before (0: none read yet).
func dueLSN(expected, from base.LSN) base.LSN {
	if expected != 0 {
		return expected
	}
	return max(from, 1)
}

// tornHeader reports whether the last segment seg, whose header is bad,
// holds only what a crash or a failed write leaves while its header is
// written: zero bytes, or fewer bytes than a header that begin the header
// written for its name (a short write of it, or a torn tail of it that
// was never synced). Until 2026-12-05 only zeros counted, so a short
// header write failed every later Open with ErrCorruption
// (TestOpenDropsPartialSegmentHeader).
func tornHeader(f vfs.File, seg segment, size int64) (bool, error) {
	if size < SegmentHeaderSize {
		var got [SegmentHeaderSize]byte
		if _, err := f.ReadAt(got[:size], 0); err != nil && !errors.Is(err, io.EOF) {
			return false, fmt.Errorf("tlog: read %s: %w", seg.path, err)
		}
		if bytes.Equal(got[:size], appendSegmentHeader(nil, seg.first)[:size]) {
			return true, nil
		}
	}
	return zeroRange(f, seg.path, 0, size)
}

// good takes the intact record the scanner holds in segment i: it must
// start at *expected, which it advances; records past replayFrom are
// replayed.
func (rc *recovery) good(i int, expected *base.LSN) error {
	sc := &rc.sc
	if sc.first != *expected {
		return rc.corrupt(i, sc.frameOff, fmt.Sprintf("LSN gap: record starts at LSN %d, want %d", sc.first, *expected), *expected)
	}
	*expected = sc.last() + 1
	if sc.last() > rc.replayFrom && rc.fn != nil {
		sc.fill(&rc.rec)
		if err := rc.fn(&rc.rec); err != nil {
			return err
		}
	}
	return nil
}

// dropEmptyLast removes segment i, the last one, which holds no records.
// The log then ends where the previous segment ended.
func (rc *recovery) dropEmptyLast(i int, expected base.LSN) error {
	seg := rc.segs[i]
	if rc.opts.KeepSegment && i == 0 && seg.first == rc.replayFrom+1 {
		// The only segment, empty, starting where the log continues:
		// removed, a crash before Open made the next one would leave a
		// directory without a segment, which KeepSegment says is a
		// removed log. It is replaced by a whole one instead
		// (CreateEmptySegment: written under a temporary name, fsynced,
		// renamed, the directory fsynced), so that a crash leaves the
		// old one or the new one. Rewritten in place, a crash could
		// leave it cut to nothing while the newest-segment file names
		// it, which is damage (NamedHeaderTorn).
		if err := CreateEmptySegment(rc.opts.FS, rc.opts.Dir, seg.first); err != nil {
			return err
		}
		rc.segs = rc.segs[:1]
		rc.activeSize = SegmentHeaderSize
		rc.hasLast, rc.lastLSN = true, seg.first-1
		return errStop
	}
	if rc.opts.KeepSegment && i == 0 {
		// The only segment, empty, starting elsewhere (a checkpoint put
		// beside the empty segment of a bus that held nothing: a
		// replica's bootstrap): the segment where the log continues is
		// made first (durably, header and directory), then this one goes.
		// The other order, removed here and made by Open after, left a
		// crash in between a directory without a segment, refused for
		// ever as a removed log beside the checkpoint
		// (TestCheckpointBesideEmptySegmentCrashAtEveryStep).
		next := rc.replayFrom + 1
		if err := CreateEmptySegment(rc.opts.FS, rc.opts.Dir, next); err != nil {
			return err
		}
		if err := removeSynced(rc.opts.FS, rc.opts.Dir, seg.path); err != nil {
			return err
		}
		rc.segs = []segment{{first: next, path: rc.opts.FS.Join(rc.opts.Dir, SegmentName(next))}}
		rc.activeSize = SegmentHeaderSize
		rc.hasLast, rc.lastLSN = true, next-1
		return errStop
	}
	if i > 0 {
		// The newest-segment file names this one, or an older one: it
		// names the one before first, so that no crash leaves it
		// naming a segment past the newest (a removed one).
		prev := rc.segs[i-1].first
		if cur, err := ReadNewest(rc.opts.FS, rc.opts.Dir); err == nil && cur > prev && cur <= seg.first {
			if err := writeNewest(rc.opts.FS, rc.opts.Dir, prev); err != nil {
				return err
			}
		}
	}
	if err := removeSynced(rc.opts.FS, rc.opts.Dir, seg.path); err != nil {
		return err
	}
	rc.segs = rc.segs[:i]
	rc.activeSize = 0
	if i > 0 {
		// The previous segment may have been skipped; its last LSN is just
		// before this segment's (name-checked) first LSN either way.
		rc.hasLast, rc.lastLSN = true, seg.first-1
		if expected != 0 {
			rc.lastLSN = expected - 1
		}
	}
	return errStop
}

// corrupt handles corruption at off in segment i: a *corruption.Error, or
// under Repair, truncation there and removal of every later segment.
func (rc *recovery) corrupt(i int, off int64, reason string, expected base.LSN) error {
	seg := rc.segs[i]
	cerr := &corruption.Error{File: seg.path, Offset: off, Reason: reason}
	if !rc.opts.Repair {
		return cerr
	}
	fs := rc.opts.FS
	// Count what is dropped: the frames still parseable from the bad one on
	// in this segment, then every later segment's. The LSNs dropped start at the one due here (by the segment's name
	// when nothing before it said: the first segment, or one after a
	// segment recovery passed over) and reach as far as the dropped
	// frames and the later segments' names show.
	first := expected
	if first == 0 {
		// Not past the LSN after the checkpoint's: a first segment named
		// past it follows a gap, whose LSNs are lost too (the next
		// commit takes the first of them). It was reported lost from
		// the segment's name (TestTornHeaderAfterGapIsCorruption).
		first = min(seg.first, rc.replayFrom+1)
	}
	lr := lostRange{known: true}
	if first > 0 {
		lr.last = first - 1
	}
	var dropped int
	if off == 0 {
		dropped = countSegment(fs, seg.path, &rc.sc, &lr) // bad header: every frame in it
	} else {
		// The scanner is just past the bad frame (or on it, when it could
		// not be delimited). An intact one (an LSN gap) says where it
		// ends; a damaged one does not.
		if rc.sc.reason == "" {
			lr.intact(rc.sc.last())
		} else {
			lr.known = false
		}
		dropped = 1 + countFrames(&rc.sc, &lr)
	}
	for _, later := range rc.segs[i+1:] {
		// A segment's name is its first LSN: whatever was unreadable
		// before it ended just below.
		lr.intact(later.first - 1)
		dropped += countSegment(fs, later.path, &rc.sc, &lr)
	}
	rc.report.RepairedFile, rc.report.RepairedOffset = seg.path, off
	rc.report.DroppedRecords = dropped
	// Only LSNs past replayFrom are lost: the state recovery started from
	// holds the others.
	first = max(first, rc.replayFrom+1)
	switch {
	case !lr.known:
		rc.report.LostFirstLSN, rc.report.LostLastLSN = first, LostUnknown
	case lr.last >= first:
		rc.report.LostFirstLSN, rc.report.LostLastLSN = first, lr.last
	}
	if rc.report.LostFirstLSN == 0 && rc.unknownFrom != 0 {
		rc.report.LostFirstLSN, rc.report.LostLastLSN = rc.unknownFrom, LostUnknown
	}
	// The loss is recorded before the log changes: an Open that fails
	// after the cut leaves it for the next to report (repair-lost file).
	if err := rc.markRepairLost(first); err != nil {
		return err
	}
	for j := len(rc.segs) - 1; j > i; j-- {
		if err := fs.Remove(rc.segs[j].path); err != nil && !vfs.IsNotExist(err) {
			return fmt.Errorf("tlog: repair: remove %s: %w", rc.segs[j].path, err)
		}
		rc.report.DroppedFiles = append(rc.report.DroppedFiles, rc.segs[j].path)
	}
	// DroppedFiles lists files in LSN order.
	for a, b := 0, len(rc.report.DroppedFiles)-1; a < b; a, b = a+1, b-1 {
		rc.report.DroppedFiles[a], rc.report.DroppedFiles[b] = rc.report.DroppedFiles[b], rc.report.DroppedFiles[a]
	}
	rc.segs = rc.segs[:i+1]
	if off <= SegmentHeaderSize {
		// Nothing valid remains in this segment.
		rc.report.DroppedFiles = append([]string{seg.path}, rc.report.DroppedFiles...)
		return rc.dropEmptyLast(i, expected)
	}
	if err := truncateFile(fs, seg.path, off); err != nil {
		return err
	}
	if err := fs.SyncDir(rc.opts.Dir); err != nil {
		return fmt.Errorf("tlog: repair: fsync directory %s: %w", rc.opts.Dir, err)
	}
	rc.hasLast, rc.lastLSN, rc.activeSize = true, expected-1, off
	return errStop
}

// lostRange follows the LSNs that Repair drops, in log order: last is the
// highest LSN read so far, and known says that nothing after it was
// unreadable (a damaged frame holds LSNs that cannot be trusted; an
// intact frame after it, or the next segment's name, bounds them again,
// the log's LSNs rising).
type lostRange struct {
	last  base.LSN
	known bool
}

// intact takes LSNs up to last as read.
func (l *lostRange) intact(last base.LSN) {
	l.last, l.known = max(l.last, last), true
}

// countFrames counts the records the scanner can still frame, skipping bad
// checksums, up to the first frame that cannot be delimited, and follows
// their LSNs in lr.
func countFrames(sc *scanner, lr *lostRange) int {
	n := 0
	for {
		st, err := sc.next()
		switch {
		case err != nil || st == frameIncomplete:
			lr.known = false // bytes left unread
			return n
		case st == frameEOF:
			return n
		case st == frameOK:
			lr.intact(sc.last())
		default:
			lr.known = false
		}
		n++
	}
}

// countSegment counts the frames of a whole segment, best effort, and
// follows their LSNs in lr (a segment that cannot be read leaves them
// unknown).
func countSegment(fs vfs.FS, path string, sc *scanner, lr *lostRange) int {
	f, err := openSegmentFile(fs, path)
	if err != nil {
		lr.known = false
		return 0
	}
	defer f.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	size, err := f.Size()
	if err != nil {
		lr.known = false
		return 0
	}
	sc.init(f, path, size)
	if _, _, err := sc.readHeader(); err != nil {
		lr.known = false
		return 0
	}
	return countFrames(sc, lr)
}

// truncateFile cuts path to size and fsyncs it. A segment with other hard
// links gets a file of its own first (unshareSegment).
func truncateFile(fs vfs.FS, path string, size int64) error {
	if err := unshareSegment(fs, path); err != nil {
		return err
	}
	f, err := fs.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("tlog: open %s to truncate: %w", path, err)
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return fmt.Errorf("tlog: truncate %s to %d: %w", path, size, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return fmt.Errorf("tlog: fsync %s after truncation: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("tlog: close %s: %w", path, err)
	}
	return nil
}

// removeSynced removes path and fsyncs dir.
func removeSynced(fs vfs.FS, dir, path string) error {
	if err := fs.Remove(path); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("tlog: remove %s: %w", path, err)
	}
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("tlog: fsync directory %s: %w", dir, err)
	}
	return nil
}

// unshareSegment gives the segment at path a file of its own (vfs.Unshare)
// when it has other hard links, before Open changes it in place: a torn
// tail cut, a Repair truncation, a header rewritten, records appended. A
// backup of the log directory made with `cp -al` or rsync --link-dest
// shares the segments' files; cutting the torn tail of one cut the
// backup's copy too (TestOpenKeepsHardLinkedBackup). The copy goes
// through the name removeSegment uses (or another when a directory sits
// there: segmentTemp), which recovery ignores and Open removes should a
// crash leave it.
func unshareSegment(fs vfs.FS, path string) error {
	if _, err := vfs.Unshare(fs, path, segmentTemp(fs, path)); err != nil {
		return fmt.Errorf("tlog: %w", err)
	}
	return nil
}
