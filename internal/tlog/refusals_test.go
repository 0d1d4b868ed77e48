package tlog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestSegmentHeaderRefusals: decodeSegmentHeader refuses a header too
// short to hold its fields (a caller passing a short slice must get a
// reason, not a panic), and names each broken field. The scanner only
// passes whole headers (readHeader checks the file's size first), so this
// is the one test of the length check.
func TestSegmentHeaderRefusals(t *testing.T) {
	valid := appendSegmentHeader(nil, 9)
	if first, reason := decodeSegmentHeader(valid); first != 9 || reason != "" {
		t.Fatalf("the valid header: %d, %q", first, reason)
	}
	for n := range SegmentHeaderSize {
		if first, reason := decodeSegmentHeader(valid[:n]); first != 0 || !strings.Contains(reason, "truncated") {
			t.Errorf("%d of %d bytes: %d, %q; want a truncated header", n, SegmentHeaderSize, first, reason)
		}
	}
}

// TestReaderPassesOverWhatIsNotLost: a Reader ends the log at a last
// segment that holds only zeros (one being created, or left so by a
// crash), and passes over a damaged record wholly below from when an
// intact record follows; the same damage is corruption to a Reader that
// needs the record. Without these, removing either check in Reader.next
// and Reader.openSegment failed no test of the package.
func TestReaderPassesOverWhatIsNotLost(t *testing.T) {
	r := func(first base.LSN) rec { return rec{first, 1, []byte("payload")} }
	t.Run("zero-filled last segment", func(t *testing.T) {
		dir := t.TempDir()
		writeRaw(t, dir, SegmentName(1), 1, r(1), r(2))
		if err := os.WriteFile(filepath.Join(dir, SegmentName(3)), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, dir, 0)
		if err != nil {
			t.Fatalf("Reader: %v", err)
		}
		equalRecs(t, got, []rec{r(1), r(2)})
	})
	t.Run("damaged record below from", func(t *testing.T) {
		dir := t.TempDir()
		p := writeRaw(t, dir, SegmentName(1), 1, r(1), r(2), r(3))
		flipByte(t, p, SegmentHeaderSize+FrameHeaderSize+7+FrameHeaderSize+1)
		got, err := readAll(t, dir, 3)
		if err != nil {
			t.Fatalf("Reader from 3: %v", err)
		}
		equalRecs(t, got, []rec{r(3)})
		if _, err := readAll(t, dir, 2); !errors.Is(err, corruption.ErrCorruption) {
			t.Fatalf("Reader from 2, which needs the damaged record: %v, want corruption", err)
		}
	})
}

// TestCheckShortLastSegment: Check reports a last segment shorter than a
// header once, at offset 0, saying that recovery removes it when it holds
// the start of the header its name calls for, and says nothing of frames
// in it; a short segment that holds anything else is reported without
// that note.
func TestCheckShortLastSegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		note    bool
	}{
		{"start of its header", appendSegmentHeader(nil, 2)[:10], true},
		{"other bytes", []byte("0123456789"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRaw(t, dir, SegmentName(1), 1, rec{1, 1, []byte("payload")})
			p := filepath.Join(dir, SegmentName(2))
			if err := os.WriteFile(p, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, probs, _ := checkAll(t, dir)
			if len(probs) != 1 || probs[0].File != p || probs[0].Offset != 0 || !strings.Contains(probs[0].Reason, "truncated") {
				t.Fatalf("Check: %v, want one problem: %s truncated at offset 0", probs, p)
			}
			if note := strings.Contains(probs[0].Reason, "empty last segment"); note != tc.note {
				t.Fatalf("Check: %q; the note that recovery removes it: %v, want %v", probs[0].Reason, note, tc.note)
			}
		})
	}
}

// TestOpenSkipsSegmentsBeforeReplayFrom: a segment whose every LSN is
// below the next segment's first, and that next first at most
// replayFrom+1, is not read: damage in its last record (which no intact
// record follows in that segment, so skipCovered cannot pass over it) does
// not stop Open. Without the skip, recovery read it and refused the log.
func TestOpenSkipsSegmentsBeforeReplayFrom(t *testing.T) {
	r := func(first base.LSN) rec { return rec{first, 1, []byte("payload")} }
	dir := t.TempDir()
	p := writeRaw(t, dir, SegmentName(1), 1, r(1), r(2))
	writeRaw(t, dir, SegmentName(3), 3, r(3), r(4))
	flipByte(t, p, SegmentHeaderSize+FrameHeaderSize+7+FrameHeaderSize+1)
	got, _, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 2)
	if err != nil {
		t.Fatalf("Open from past the damaged segment: %v", err)
	}
	l.Close()
	equalRecs(t, got, []rec{r(3), r(4)})
	// The control: a replay that needs the damaged record refuses.
	if _, _, _, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 1); !errors.Is(err, corruption.ErrCorruption) {
		t.Fatalf("Open from 1: %v, want corruption", err)
	}
}
