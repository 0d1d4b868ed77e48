package tlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestTruncatedHeaderSaysOneByte: a segment cut to one byte was reported
// as "segment header truncated (file is 1 bytes, …)" by Check (and so by
// `mmsb check` and the integrity validator) and by a refusing Open. One
// byte is said in the singular; two bytes (the control) in the plural.
func TestTruncatedHeaderSaysOneByte(t *testing.T) {
	for _, tc := range []struct {
		size int
		want string
	}{
		{1, "(file is 1 byte, header is 24)"},
		{2, "(file is 2 bytes, header is 24)"},
	} {
		dir := t.TempDir()
		recs := genRecords(1, 4, 40)
		writeLog(t, dir, 0, recs)
		// A first segment of its own, cut: never a crash's (a later one
		// follows it), so every reader reports it.
		seg := filepath.Join(dir, SegmentName(1))
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(seg, b[:tc.size], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, SegmentName(100)), appendSegmentHeader(nil, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		var reasons []string
		if _, err := Check(vfs.Default, dir, nil, func(p Problem) { reasons = append(reasons, p.Reason) }); err != nil {
			t.Fatal(err)
		}
		if len(reasons) == 0 || !strings.Contains(reasons[0], tc.want) {
			t.Errorf("segment of %d bytes: Check says %q, want %q", tc.size, reasons, tc.want)
		}
	}
}
