// Package tlog is MMSB's transaction log: segmented files of CRC32C-framed
// records, each record holding a contiguous range of LSNs (a committed batch
// of operations), with group commit, three sync modes, rotation, crash
// recovery and streaming readers. The payload of a record is opaque to this
// package (internal/record defines it).
package tlog

import (
	"errors"
	"fmt"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/metric"
	"github.com/mmsb-go/mmsb/vfs"
)

// Errors.
var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("tlog: closed")
	// ErrOutOfOrder: Append was called with a first LSN that does not follow
	// the previous record.
	ErrOutOfOrder = errors.New("tlog: append out of LSN order")
	// ErrInvalidRecord: Append was given a record that cannot be logged
	// (zero count, LSN 0, an LSN range that overflows, or a payload larger
	// than MaxRecordBytes).
	ErrInvalidRecord = errors.New("tlog: invalid record")
)

// SyncMode says when a commit is acknowledged.
type SyncMode uint8

// Sync modes.
const (
	// SyncGroup (default): Wait returns once an fsync covering the record
	// has completed; concurrent committers share fsyncs.
	SyncGroup SyncMode = 0
	// SyncAlways: every Append is written and fsynced before it returns.
	SyncAlways SyncMode = 1
	// SyncNone: every Append is handed to the OS (write) before it returns,
	// never fsynced by commits: survives a process crash, may lose
	// acknowledged records on power failure (never corrupts: recovery
	// truncates the torn tail).
	SyncNone SyncMode = 2
)

// String returns "group", "always" or "none".
func (m SyncMode) String() string {
	switch m {
	case SyncGroup:
		return "group"
	case SyncAlways:
		return "always"
	case SyncNone:
		return "none"
	}
	return "unknown"
}

// ParseSyncMode parses "group", "always" or "none".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "group", "":
		return SyncGroup, nil
	case "always":
		return SyncAlways, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("tlog: unknown sync mode %q (want group, always or none)", s)
}

// Options configure a Log.
type Options struct {
	FS  vfs.FS
	Dir string // directory holding the segments (created if missing)
	// SegmentBytes: rotate to a new segment once the current one reaches
	// this size (at a record boundary). Default 64 MiB.
	SegmentBytes int64
	Sync         SyncMode
	// Repair: on corruption before the tail, truncate the log at the bad
	// record (reporting what was dropped) instead of failing Open.
	Repair bool
	// KeepSegment: the directory always holds a segment once Open
	// returns. An empty log gets an empty segment starting at the next
	// LSN (replayFrom+1), and recovery keeps (or replaces with a whole one)
	// an empty only segment that starts there instead of removing it. A
	// data directory whose checkpoints a log continues then never shows a
	// wal/ without a segment unless segments were removed by hand (see
	// ModeLog). Without it an empty log directory stays empty until the
	// first Append.
	KeepSegment bool
	// FsyncNanos, if set, records the duration of every segment fsync
	// (directory fsyncs excluded), in nanoseconds.
	FsyncNanos *metric.Histogram
	// GroupRecords, if set, records how many records each write call
	// carried: under SyncGroup the size of a commit group.
	GroupRecords *metric.Histogram
}

// Record is one framed log record.
type Record struct {
	FirstLSN base.LSN // LSN of the first operation in the record
	Count    uint32   // number of operations (LSNs) in the record
	Payload  []byte   // valid until the callback returns / the next Next call
	File     string   // segment path
	Offset   int64    // offset of the record's frame in the segment
}

// LastLSN is the LSN of the record's last operation.
func (r *Record) LastLSN() base.LSN { return r.FirstLSN + base.LSN(r.Count) - 1 }

// LostUnknown is RecoveryReport.LostLastLSN when Repair dropped a frame
// whose LSNs could not be read (mmsb.LostLSNUnknown).
const LostUnknown = ^base.LSN(0)

// RecoveryReport says what Open found.
type RecoveryReport struct {
	Segments       int      // segment files present after recovery
	FirstLSN       base.LSN // first LSN still in the log (0 if empty)
	LastLSN        base.LSN // last LSN in the log (0 if empty)
	TornFile       string   // segment whose torn tail was truncated ("" if none)
	TornOffset     int64    // offset the torn segment was truncated to
	TornBytes      int64    // bytes removed from the torn tail
	RepairedFile   string   // Repair: segment truncated at corruption
	RepairedOffset int64
	DroppedRecords int // Repair: records dropped (including later segments)
	DroppedFiles   []string
	// LostFirstLSN and LostLastLSN are the LSNs past the replay start
	// (Open's replayFrom) that Repair's cut dropped: LostFirstLSN is the
	// one after the LSN recovery ended at (the next append reuses it),
	// LostLastLSN the last LSN the dropped records reached, or LostUnknown
	// when a dropped frame could not be read to its end (its LSNs
	// unreadable: possibly none past the intact ones). Both are 0 when
	// nothing past replayFrom was dropped.
	LostFirstLSN base.LSN
	LostLastLSN  base.LSN
	// CoveredDamage counts damaged records that were skipped because the
	// checkpoint recovery started from covers every LSN they can hold;
	// the first one's file, offset and reason are kept.
	CoveredDamage       int
	CoveredDamageFile   string
	CoveredDamageOffset int64
	CoveredDamageReason string
}

// Stats are cumulative counters of a Log.
type Stats struct {
	Records      uint64
	Bytes        uint64 // framed bytes written
	Syncs        uint64 // fsyncs issued
	Writes       uint64 // write calls issued
	Segments     int
	LastLSN      base.LSN
	DurableLSN   base.LSN // highest LSN covered by a completed fsync, in every sync mode
	SegmentsGone uint64   // segments removed by RemoveThrough

	// WrittenLSN is the highest LSN handed to the OS (written, fsynced or
	// not): what survives a process crash but not necessarily a power
	// failure. Under SyncNone commits are acknowledged at WrittenLSN;
	// DurableLSN only moves with rotations, Sync and Close.
	WrittenLSN base.LSN

	// OldestLSN is the first LSN still in the log (readable by a query),
	// or 0 when the log holds no record.
	OldestLSN base.LSN

	// PayloadBytes counts the record payloads appended (the logical bytes,
	// before framing); WriteBytes counts the bytes handed to write calls
	// (frames and segment headers: the physical bytes).
	PayloadBytes uint64
	WriteBytes   uint64
}

// Ticket identifies an appended record for Wait.
type Ticket struct{ LSN base.LSN }

// SegmentInfo describes one segment file, as found by Check.
type SegmentInfo struct {
	File     string
	Bytes    int64
	Records  int
	FirstLSN base.LSN
	LastLSN  base.LSN
}

// Problem is one finding of Check.
type Problem struct {
	File   string
	Offset int64
	Reason string
}
