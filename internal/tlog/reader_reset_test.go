package tlog

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestReaderResetAtReadsAsNewReaderAt: a reader reset to a position reads
// exactly what a new reader at that position reads (every record to the
// end of the log), whatever it read before, after Close and after a reset
// that failed, and keeps its read buffer (provenance resets one reader per
// step of a query instead of allocating 256 KiB a step).
func TestReaderResetAtReadsAsNewReaderAt(t *testing.T) {
	dir := t.TempDir()
	recs := genRecords(1, 120, 300)
	writeLog(t, dir, 4096, recs)
	files, offs := recordOffsets(t, dir)
	if len(segPaths(t, dir)) < 3 {
		t.Fatalf("want a log of several segments, got %d", len(segPaths(t, dir)))
	}
	readRest := func(r *Reader) []rec {
		t.Helper()
		var got []rec
		for {
			x, err := r.Next()
			if errors.Is(err, io.EOF) {
				return got
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec{x.FirstLSN, x.Count, bytes.Clone(x.Payload)})
		}
	}
	reused, err := NewReader(vfs.Default, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reused.Close()
	readRest(reused) // fills the buffers
	br := reused.sc.br
	for _, tc := range []struct {
		name   string
		rec    int  // index in recs of the record to start at
		pos    bool // start at its position (else the zero Position)
		before func(t *testing.T)
	}{
		{name: "first record", rec: 0},
		{name: "middle, from its segment's start", rec: 60},
		{name: "middle, at its position", rec: 60, pos: true},
		{name: "last, at its position", rec: 119, pos: true},
		{name: "after Close", rec: 30, pos: true, before: func(t *testing.T) { _ = reused.Close() }},
		{name: "after a failed reset", rec: 90, pos: true, before: func(t *testing.T) {
			if err := reused.ResetAt(vfs.Default, filepath.Join(dir, "missing"), Position{}, 1); !vfs.IsNotExist(err) {
				t.Fatalf("ResetAt of a missing directory = %v, want not-exist", err)
			}
			if _, err := reused.Next(); !vfs.IsNotExist(err) {
				t.Fatalf("Next after a failed ResetAt = %v, want its error", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := recs[tc.rec].First
			var pos Position
			if tc.pos {
				pos = Position{File: files[tc.rec], Offset: offs[tc.rec], FirstLSN: from}
			}
			fresh, err := NewReaderAt(vfs.Default, dir, pos, from)
			if err != nil {
				t.Fatal(err)
			}
			want := readRest(fresh)
			_ = fresh.Close()
			if tc.before != nil {
				tc.before(t)
			}
			if err := reused.ResetAt(vfs.Default, dir, pos, from); err != nil {
				t.Fatal(err)
			}
			got := readRest(reused)
			equalRecs(t, got, want)
			if len(got) != len(recs)-tc.rec || got[0].First != from {
				t.Fatalf("read %d records from LSN %d, want %d from LSN %d", len(got), got[0].First, len(recs)-tc.rec, from)
			}
			if reused.sc.br != br {
				t.Fatal("ResetAt allocated a new read buffer")
			}
		})
	}
}
