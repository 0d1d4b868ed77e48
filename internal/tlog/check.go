package tlog

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// Check verifies every segment in dir without modifying anything: headers,
// every record's framing and CRC, LSN contiguity within and across
// segments. It calls problem for every issue found (continuing past it
// where framing allows) and calls record (if non-nil) for every good record.
// A torn tail in the last segment is reported as a problem too (recovery
// would truncate it). The error reports I/O failures and errors returned by
// record; findings go to problem only. Memory use is bounded by the largest
// record, whatever the log's size.
func Check(fs vfs.FS, dir string, record func(r *Record) error, problem func(Problem)) ([]SegmentInfo, error) {
	if fs == nil {
		fs = vfs.Default
	}
	if problem == nil {
		problem = func(Problem) {}
	}
	// Read before the listing, as NewestMissing does: a segment made
	// meanwhile is named only once its header is durable.
	newest, _ := ReadNewest(fs, dir) // one that does not decode is CheckNewest's to report
	segs, err := listSegments(fs, dir)
	if err != nil {
		return nil, err
	}
	var (
		sc       scanner
		rec      Record
		expected base.LSN // 0 while unknown (start, or after a bad frame)
		infos    = make([]SegmentInfo, 0, len(segs))
	)
	for i, seg := range segs {
		isLast := i == len(segs)-1
		info, err := checkSegment(fs, seg, isLast && seg.first != newest, isLast, &sc, &rec, &expected, record, problem)
		if err != nil {
			return infos, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// checkSegment checks seg, the log's last when isLast; crashTorn says
// whether a header a crash leaves torn there is a crash's (no
// newest-segment file names it: NamedHeaderTorn).
func checkSegment(fs vfs.FS, seg segment, crashTorn, isLast bool, sc *scanner, rec *Record, expected *base.LSN,
	record func(r *Record) error, problem func(Problem)) (SegmentInfo, error) {
	info := SegmentInfo{File: seg.path}
	f, err := openSegmentFile(fs, seg.path)
	var notRegular *corruption.Error
	if errors.As(err, &notRegular) {
		// A finding, not an I/O failure: the segments after it are
		// checked too, and the LSN contiguity starts over after it.
		problem(Problem{File: seg.path, Offset: -1, Reason: notRegular.Reason})
		*expected = 0
		return info, nil
	}
	if err != nil {
		return info, err
	}
	defer f.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	size, err := f.Size()
	if err != nil {
		return info, fmt.Errorf("tlog: size of %s: %w", seg.path, err)
	}
	info.Bytes = size
	sc.init(f, seg.path, size)
	report := func(off int64, reason string) {
		problem(Problem{File: seg.path, Offset: off, Reason: reason})
	}
	hfirst, reason, err := sc.readHeader()
	if err != nil {
		return info, err
	}
	if reason != "" {
		if isLast && size < SegmentHeaderSize && *expected != 0 && !ContinuesLog(seg.first, *expected, 0) {
			// Named past where the previous segment ended: no crash
			// leaves that, and recovery refuses it (ContinuesLog).
			reason += fmt.Sprintf(" in the last segment, named for LSN %d where the log continues at LSN %d: no crash leaves that, so the segments holding the LSNs between are missing", seg.first, *expected)
		} else if isLast && size < SegmentHeaderSize {
			if torn, err := tornHeader(f, seg, size); err != nil {
				return info, err
			} else if torn && !crashTorn {
				reason += NamedHeaderTorn(seg.first)
			} else if torn {
				// An only one is replaced whole, not rewritten in place
				// (dropEmptyLast), since 2026-12-07.
				reason += " (empty last segment; recovery removes it, or replaces an only one with a whole empty segment where the log continues)"
			}
		}
		report(0, reason)
		*expected = 0
		if size < SegmentHeaderSize {
			return info, nil
		}
		// Frames may still be delimited after a damaged header.
	} else {
		if hfirst != seg.first {
			report(0, fmt.Sprintf("segment header first LSN %d does not match file name (LSN %d)", hfirst, seg.first))
		}
		if *expected != 0 && hfirst != *expected {
			report(0, fmt.Sprintf("LSN gap: segment starts at LSN %d, previous record ended at %d", hfirst, *expected-1))
		}
		*expected = hfirst
	}
	for {
		st, err := sc.next()
		if err != nil {
			return info, err
		}
		switch st {
		case frameEOF:
			return info, nil
		case frameOK:
			if *expected != 0 && sc.first != *expected {
				report(sc.frameOff, fmt.Sprintf("LSN gap: record starts at LSN %d, want %d", sc.first, *expected))
			}
			*expected = sc.last() + 1
			if info.Records == 0 {
				info.FirstLSN = sc.first
			}
			info.Records++
			info.LastLSN = sc.last()
			if record != nil {
				sc.fill(rec)
				if err := record(rec); err != nil {
					return info, err
				}
			}
			continue
		case frameIncomplete:
			if isLast {
				report(sc.frameOff, "torn tail: "+sc.reason+tornTailFate)
			} else {
				report(sc.frameOff, sc.reason)
			}
			*expected = 0
			return info, nil
		case frameBadCRC:
			if isLast {
				// What recovery decides (tornAt): zeros after it, and no
				// intact record swallowed by a corrupt length.
				zero, err := sc.tornAt(st)
				if err != nil {
					return info, err
				}
				if zero {
					report(sc.frameOff, "torn tail: "+sc.reason+", followed only by zeros"+tornTailFate)
					return info, nil
				}
			}
		}
		// Bad checksum or invalid fields: the frame's length delimited it,
		// so go on with the next one; its LSN cannot be trusted.
		report(sc.frameOff, sc.reason)
		*expected = 0
	}
}

// tornTailFate says what recovery does with a torn tail, which Check,
// knowing no checkpoint, cannot decide: cut where the log there still
// reaches the checkpoint recovery starts from, damage before it (a
// checkpoint proves its LSNs durable). "(recovery truncates it)" was said
// of a log cut before the checkpoint that Open refuses
// (TestOpenRefusesTornTailBeforeCheckpoint).
const tornTailFate = " (recovery truncates it, unless the log then ends before the checkpoint it starts from: that is damage, which only Repair cuts)"
