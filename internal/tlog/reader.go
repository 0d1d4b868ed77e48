package tlog

import (
	"errors"
	"fmt"
	"io"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// Reader streams records from a log directory. It may run while a Log is
// writing the same directory, up to the records durable at that time.
//
// The segment list is taken by NewReader and each segment's size when the
// reader reaches it, so a reader never sees a record that was half-written
// at that moment: such a record looks like a torn tail and ends the log.
type Reader struct {
	fs   vfs.FS
	dir  string
	from base.LSN
	segs []segment
	idx  int // index in segs of the open segment (or the next to open)

	f        vfs.File
	sc       scanner
	expected base.LSN // next LSN due; 0 while unknown
	rec      Record
	err      error // terminal result (io.EOF or corruption), returned again
	torn     bool  // a torn tail (or a last segment's unwritten header) ended the log

	start Position // NewReaderAt: where to start in the first segment
}

// Position is the place of a record in the log: its segment file, the
// offset of its frame, and its first LSN. Log.Locate returns positions from
// a sparse index kept while the log is written.
type Position struct {
	File     string
	Offset   int64
	FirstLSN base.LSN
}

// NewReaderAt returns a reader that starts at pos (a record boundary from
// Log.Locate) instead of the beginning of pos's segment, returning records
// holding LSNs >= from. If pos's segment is gone it falls back to NewReader.
func NewReaderAt(fs vfs.FS, dir string, pos Position, from base.LSN) (*Reader, error) {
	r := &Reader{}
	if err := r.ResetAt(fs, dir, pos, from); err != nil {
		return nil, err
	}
	return r, nil
}

// ResetAt makes r read as NewReaderAt(fs, dir, pos, from) would (closing
// the file it had open, and after Close too), keeping its buffers: the
// 256 KiB read buffer and the largest payload read so far. A caller that
// reads many short stretches of the log (a provenance query reads one
// record per step) allocates them once instead of once a read. The record
// Next returned last is no longer valid. On an error r returns it from
// Next.
func (r *Reader) ResetAt(fs vfs.FS, dir string, pos Position, from base.LSN) error {
	if err := r.reset(fs, dir, from); err != nil {
		return err
	}
	for i, seg := range r.segs {
		if seg.path == pos.File && pos.Offset > SegmentHeaderSize && pos.FirstLSN <= from {
			r.segs = r.segs[i:]
			r.start = pos
			break
		}
	}
	return nil
}

// NewReader returns a reader positioned at the first record holding an LSN
// >= from (skipping whole segments that end before it).
func NewReader(fs vfs.FS, dir string, from base.LSN) (*Reader, error) {
	r := &Reader{}
	if err := r.reset(fs, dir, from); err != nil {
		return nil, err
	}
	return r, nil
}

// reset makes r a new reader of dir from from (NewReader), keeping its
// scanner's buffers.
func (r *Reader) reset(fs vfs.FS, dir string, from base.LSN) error {
	if fs == nil {
		fs = vfs.Default
	}
	r.closeFile()
	br, buf := r.sc.br, r.sc.buf
	segs, err := listSegments(fs, dir)
	if err != nil {
		*r = Reader{err: err, sc: scanner{br: br, buf: buf}}
		return err
	}
	start := 0
	for start+1 < len(segs) && segs[start+1].first <= from {
		start++
	}
	*r = Reader{fs: fs, dir: dir, from: from, segs: segs[start:], sc: scanner{br: br, buf: buf}}
	return nil
}

// Next returns the next record, io.EOF at the end of the log (a torn tail
// also ends the log), or a *corruption.Error. The record and its payload are
// valid until the next call.
func (r *Reader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil {
		r.err = err
		r.closeFile()
	}
	return rec, err
}

func (r *Reader) next() (*Record, error) {
	sc := &r.sc
	for {
		if r.f == nil {
			if r.idx >= len(r.segs) {
				return nil, io.EOF
			}
			if err := r.openSegment(); err != nil {
				return nil, err
			}
		}
		isLast := r.idx == len(r.segs)-1
		st, err := sc.next()
		if err != nil {
			return nil, err
		}
		if st != frameOK && st != frameEOF && isLast {
			torn, err := sc.tornAt(st)
			if err != nil {
				return nil, err
			}
			if torn {
				r.torn = true
				return nil, io.EOF
			}
		}
		if st == frameBadCRC || st == frameInvalid {
			// Damage below from, in a record the reader is not asked
			// for, is passed over (see skipCovered).
			skip, err := sc.skipCovered(r.expected, r.from)
			if err != nil {
				return nil, err
			}
			if skip {
				r.expected, st = sc.first, frameOK
			}
		}
		switch st {
		case frameEOF:
			r.closeFile()
			r.idx++
			continue
		case frameOK:
			if r.expected != 0 && sc.first != r.expected {
				return nil, &corruption.Error{File: sc.path, Offset: sc.frameOff,
					Reason: fmt.Sprintf("LSN gap: record starts at LSN %d, want %d", sc.first, r.expected)}
			}
			r.expected = sc.last() + 1
			if sc.last() < r.from {
				continue
			}
			sc.fill(&r.rec)
			return &r.rec, nil
		}
		return nil, &corruption.Error{File: sc.path, Offset: sc.frameOff, Reason: sc.reason}
	}
}

// End says, once Next returned io.EOF, where the log read ended: its
// last LSN (the one before the next LSN due, so a newest segment holding
// no record ends it at the LSN before its first; 0 when no segment was
// read) and whether what a crash leaves ended it (a torn tail, a last
// segment's header not written), which Open cuts (RecoveryReport.TornFile).
// Before io.EOF it is (0, false).
func (r *Reader) End() (base.LSN, bool) {
	if !errors.Is(r.err, io.EOF) || r.expected == 0 {
		return 0, false
	}
	return r.expected - 1, r.torn
}

func (r *Reader) openSegment() error {
	seg := r.segs[r.idx]
	isLast := r.idx == len(r.segs)-1
	f, err := openSegmentFile(r.fs, seg.path)
	if err != nil {
		return err
	}
	size, err := f.Size()
	if err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		return fmt.Errorf("tlog: size of %s: %w", seg.path, err)
	}
	r.f = f
	var newest base.LSN
	if isLast {
		// Read before the header: a segment being made beside a live
		// reader is named by the file only once its header is durable,
		// so one the file names now reads whole below.
		newest, _ = ReadNewest(r.fs, r.dir) // one that does not decode names none here: CheckNewest refuses it
	}
	r.sc.init(f, seg.path, size)
	hfirst, reason, err := r.sc.readHeader()
	if err != nil {
		return err
	}
	if reason != "" && isLast {
		// A segment being created (or left empty by a crash) holds
		// nothing; but one is made only where the log continues: named
		// past that, it follows a gap, which no crash leaves
		// (ContinuesLog); and one the newest-segment file names had its
		// header durable (NamedHeaderTorn).
		if seg.first == newest {
			if torn, err := tornHeader(f, seg, size); err != nil {
				return err
			} else if torn {
				reason += NamedHeaderTorn(seg.first)
			}
		} else if ContinuesLog(seg.first, r.expected, r.from) {
			if zero, err := zeroRange(f, seg.path, 0, size); err != nil {
				return err
			} else if zero {
				r.torn = true
				return io.EOF
			}
		} else if torn, err := tornHeader(f, seg, size); err != nil {
			return err
		} else if torn {
			reason += fmt.Sprintf(" in the last segment, named for LSN %d where the log continues at LSN %d: no crash leaves that (a segment is made where the log continues), so the segments holding the LSNs between are missing",
				seg.first, dueLSN(r.expected, r.from))
		}
	}
	if reason == "" && hfirst != seg.first {
		reason = fmt.Sprintf("segment header first LSN %d does not match file name (LSN %d)", hfirst, seg.first)
	}
	if reason == "" && r.expected != 0 && hfirst != r.expected {
		reason = fmt.Sprintf("LSN gap: segment starts at LSN %d, previous record ended at %d", hfirst, r.expected-1)
	}
	if reason != "" {
		return &corruption.Error{File: seg.path, Offset: 0, Reason: reason}
	}
	r.expected = hfirst
	if r.start.File == seg.path && r.start.Offset < size {
		// Skip to the indexed record: every frame is still checked from there.
		r.sc.seek(r.start.Offset, r.start.FirstLSN)
		r.expected = r.start.FirstLSN
	}
	r.start = Position{}
	return nil
}

// openSegmentFile opens the segment at path for reading. A name that
// holds no regular file (vfs.OpenRegular: a named pipe, on which open(2)
// would block, a directory, a dangling link) is a *corruption.Error naming
// the file and what it holds. Other errors are wrapped as they are.
func openSegmentFile(fsys vfs.FS, path string) (vfs.File, error) {
	f, err := vfs.OpenRegular(fsys, path)
	if errors.Is(err, vfs.ErrNotRegular) {
		return nil, corruption.New(path, -1, "%v", err)
	}
	if err != nil {
		return nil, fmt.Errorf("tlog: open %s: %w", path, err)
	}
	return f, nil
}

func (r *Reader) closeFile() {
	if r.f != nil {
		_ = r.f.Close() // already failing or read-only: the error above is the one to report
		r.f = nil
	}
}

// Idle closes r and makes it forget the log it read (its filesystem,
// segments and file), keeping its buffers for a later ResetAt: the 256
// KiB read buffer, and the payload buffer of the largest record it read
// unless that is over keep bytes. A caller that keeps idle readers for
// later reads (mmsb's log queries) keeps their buffers, but neither a
// record's MiBs nor the filesystem of a bus closed since (an in-memory
// one holds every byte written). Next returns ErrClosed until ResetAt.
func (r *Reader) Idle(keep int) {
	r.closeFile()
	br, buf := r.sc.br, r.sc.buf
	if cap(buf) > keep {
		buf = nil
	}
	if br != nil {
		br.Reset(nil) // drops the section reader of the closed file
	}
	*r = Reader{err: ErrClosed, sc: scanner{br: br, buf: buf}}
}

// Close releases the reader's file. Next returns ErrClosed afterwards.
func (r *Reader) Close() error {
	var err error
	if r.f != nil {
		err = r.f.Close()
		r.f = nil
	}
	r.err = ErrClosed
	return err
}
