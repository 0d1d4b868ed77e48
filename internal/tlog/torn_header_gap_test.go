package tlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestTornHeaderAfterGap: a last segment holding the start of its header
// ends the log (a crash while it was made) only where it is named for the
// LSN the log continues at: a segment is never made past it. Named past
// it (LSN 5 after a segment ending at 1), the segments between are gone:
// recovery, the Reader and Check read it as the log's end, hiding their
// loss (Check said "recovery removes it"). Each refuses it now, naming the
// gap; named for LSN 2 it still ends the log for recovery. (The Reader
// refuses a partial header either way, naming the gap only past one;
// mmsb reads a partial last header where the log continues as the end.)
func TestTornHeaderAfterGap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first base.LSN
		gap   bool
	}{
		{"where the log continues", 2, false},
		{"past a gap", 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRaw(t, dir, SegmentName(1), 1, rec{1, 1, []byte("payload")})
			p := filepath.Join(dir, SegmentName(tc.first))
			if err := os.WriteFile(p, appendSegmentHeader(nil, tc.first)[:10], 0o644); err != nil {
				t.Fatal(err)
			}
			_, probs, _ := checkAll(t, dir)
			if len(probs) != 1 || probs[0].File != p {
				t.Fatalf("Check: %v, want one problem in %s", probs, p)
			}
			if note := strings.Contains(probs[0].Reason, "empty last segment"); note == tc.gap {
				t.Fatalf("Check: %q; the note that recovery removes it: %v, want %v", probs[0].Reason, note, !tc.gap)
			}
			if gap := strings.Contains(probs[0].Reason, "segments holding the LSNs between are missing"); gap != tc.gap {
				t.Fatalf("Check: %q; names the gap: %v, want %v", probs[0].Reason, gap, tc.gap)
			}
			r, err := NewReader(vfs.Default, dir, 1)
			if err != nil {
				t.Fatal(err)
			}
			var rerr error
			for rerr == nil {
				_, rerr = r.Next()
			}
			_ = r.Close()
			// A partial header is the Reader's corruption either way
			// (mmsb's tornLast reads it as the end); past a gap it says so.
			if gap := !errors.Is(rerr, io.EOF) && strings.Contains(rerr.Error(), "segments holding the LSNs between are missing"); gap != tc.gap {
				t.Fatalf("Reader: %v at the torn header; names the gap: %v, want %v", rerr, gap, tc.gap)
			}
			_, _, l, err := replay(t, Options{FS: vfs.Default, Dir: dir}, 0)
			if l != nil {
				_ = l.Close()
			}
			if tc.gap {
				var cerr *corruption.Error
				if !errors.As(err, &cerr) || cerr.File != p || !strings.Contains(cerr.Reason, "named for LSN 5 where the log continues at LSN 2") {
					t.Fatalf("Open: %v, want corruption in %s naming the gap", err, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
		})
	}
}
