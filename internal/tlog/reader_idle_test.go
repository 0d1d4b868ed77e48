package tlog

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestReaderIdle: an idle reader keeps the payload buffer of the largest
// record it read, unless it is over the bound Idle is given, and its read
// buffer, but not the log it read (file, filesystem, segments, the last
// record); Next is ErrClosed; reset, it reads every record again as it
// was.
func TestReaderIdle(t *testing.T) {
	dir := t.TempDir()
	recs := []rec{
		{First: 1, Count: 1, Payload: payloadFor(1, 100)},
		{First: 2, Count: 1, Payload: payloadFor(2, 64<<10)},
		{First: 3, Count: 1, Payload: payloadFor(3, 10)},
	}
	writeLog(t, dir, 1<<20, recs)
	r, err := NewReader(vfs.Default, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readAll := func() {
		t.Helper()
		for i := 0; ; i++ {
			x, err := r.Next()
			if errors.Is(err, io.EOF) {
				if i != len(recs) {
					t.Fatalf("read %d records, want %d", i, len(recs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if x.FirstLSN != recs[i].First || !bytes.Equal(x.Payload, recs[i].Payload) {
				t.Fatalf("record %d: LSN %d, %d bytes; want LSN %d, %d bytes", i, x.FirstLSN, len(x.Payload), recs[i].First, len(recs[i].Payload))
			}
		}
	}
	for _, tc := range []struct {
		bound int
		kept  bool
	}{{bound: 1 << 20, kept: true}, {bound: 1 << 10, kept: false}} {
		readAll()
		br := r.sc.br
		r.Idle(tc.bound)
		if r.rec.Payload != nil || r.sc.payload != nil || r.fs != nil || r.segs != nil || r.f != nil || r.sc.f != nil {
			t.Fatalf("bound %d: the idle reader still holds the log it read (payload %v, fs %v, %d segments, file %v)", tc.bound, r.rec.Payload != nil, r.fs, len(r.segs), r.f)
		}
		if r.sc.br != br {
			t.Fatalf("bound %d: the idle reader dropped its read buffer", tc.bound)
		}
		if _, err := r.Next(); !errors.Is(err, ErrClosed) {
			t.Fatalf("bound %d: Next of an idle reader = %v, want ErrClosed", tc.bound, err)
		}
		if kept := cap(r.sc.buf) >= 64<<10; kept != tc.kept {
			t.Fatalf("bound %d: payload buffer of %d bytes kept: %v, want %v", tc.bound, cap(r.sc.buf), kept, tc.kept)
		}
		if err := r.ResetAt(vfs.Default, dir, Position{}, 0); err != nil {
			t.Fatal(err)
		}
	}
	readAll()
}
