package tlog

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// silentShortFS's files, while short is set, write half of each buffer
// and report no error, breaking io.Writer's contract (a caller's own
// vfs.FS could). errorfs's short writes always come with an error.
type silentShortFS struct {
	vfs.FS
	short *atomic.Bool
}

type silentShortFile struct {
	vfs.File
	short *atomic.Bool
}

func (fs silentShortFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return silentShortFile{f, fs.short}, nil
}

func (fs silentShortFS) OpenAppend(name string) (vfs.File, error) {
	f, err := fs.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return silentShortFile{f, fs.short}, nil
}

func (f silentShortFile) Write(p []byte) (int, error) {
	if f.short.Load() {
		return f.File.Write(p[:len(p)/2])
	}
	return f.File.Write(p)
}

// wantShortWrite fails unless err is io.ErrShortWrite naming the counts.
func wantShortWrite(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, io.ErrShortWrite) || !strings.Contains(err.Error(), "bytes written") {
		t.Fatalf("%s = %v; want io.ErrShortWrite with the counts", what, err)
	}
}

// TestSilentShortWriteFailsLog: a segment file whose Write writes half of
// the buffer and returns no error fails the log with io.ErrShortWrite,
// naming the counts, in each place the log writes (a commit group's
// flush, the buffer a rotation writes, a new segment's header), and
// nothing whose write was cut short is acknowledged; a reopened log
// replays exactly the records acknowledged before. Before, the log
// counted the records as written: Append under SyncAlways returned nil
// for a record of which half reached the file, and recovery dropped it.
func TestSilentShortWriteFailsLog(t *testing.T) {
	recs := genRecords(1, 3, 40)
	for _, tc := range []struct {
		name     string
		mode     SyncMode
		segBytes int64
	}{
		{"flush", SyncAlways, 0},   // the leader's write of a group
		{"rotate", SyncGroup, 1},   // rotate writes the buffered group
		{"header", SyncAlways, 1},  // createSegment's header write
		{"writeNone", SyncNone, 0}, // the leader's write without fsync
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			var short atomic.Bool
			opts := Options{FS: silentShortFS{mem, &short}, Dir: "/wal", Sync: tc.mode, SegmentBytes: tc.segBytes}
			l := openLog(t, opts)
			acked := recs[:1]
			appendAll(t, l, acked)
			var err error
			switch tc.name {
			case "rotate":
				// Buffered, not yet written: the next Append rotates
				// (SegmentBytes 1) and writes it first.
				tk, aerr := l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
				if aerr != nil {
					t.Fatal(aerr)
				}
				short.Store(true)
				_, err = l.Append(recs[2].First, recs[2].Count, recs[2].Payload)
				wantShortWrite(t, "Append (rotating)", err)
				if werr := l.Wait(context.Background(), tk); werr == nil {
					t.Fatal("Wait for the record cut short = nil; want the log's error")
				}
			case "header":
				// SegmentBytes 1 and SyncAlways: the record is written
				// whole, the next Append creates a segment whose header
				// is cut short.
				short.Store(true)
				_, err = l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
				wantShortWrite(t, "Append (new segment)", err)
			default:
				short.Store(true)
				_, err = l.Append(recs[1].First, recs[1].Count, recs[1].Payload)
				wantShortWrite(t, "Append", err)
			}
			// Sticky: the log is failed, not continuing after a gap.
			next := l.LastLSN() + 1
			if _, err := l.Append(next, 1, nil); !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("Append after the short write = %v; want the sticky error", err)
			}
			if err := l.Sync(); !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("Sync after the short write = %v; want the sticky error", err)
			}
			_ = l.Close() // failed: its error is the sticky one

			short.Store(false)
			got, _, l2, err := replay(t, Options{FS: mem, Dir: "/wal"}, 0)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer l2.Close()
			equalRecs(t, got, acked)
		})
	}
}

// TestSilentShortWriteFailsMode: WriteMode and CreateEmptySegment fail
// with io.ErrShortWrite on a silent short write instead of renaming half a
// log-mode file into place or leaving half a header.
func TestSilentShortWriteFailsMode(t *testing.T) {
	mem := vfs.NewMem()
	var short atomic.Bool
	short.Store(true)
	fs := silentShortFS{mem, &short}
	if err := mem.MkdirAll("/ck"); err != nil {
		t.Fatal(err)
	}
	wantShortWrite(t, "WriteMode", WriteMode(fs, "/ck", ModeLog))
	if mem.Exists(mem.Join("/ck", ModeFileName)) {
		t.Fatal("a log-mode file cut short was renamed into place")
	}
	if err := mem.MkdirAll("/wal"); err != nil {
		t.Fatal(err)
	}
	wantShortWrite(t, "CreateEmptySegment", CreateEmptySegment(fs, "/wal", base.LSN(5)))
}
