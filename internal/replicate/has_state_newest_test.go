package replicate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestHasStateIgnoresNewestSegmentFile: a directory whose wal/ holds a
// log segment with no record and the newest-segment file naming it, and
// whose checkpoints/ holds the log-mode file, holds no bus state: what an
// Open with a log leaves in a bus that holds nothing. A record in the
// segment is state. Counted as state (for a few hours on 2026-12-07, the
// newest-segment file being new), a replica opened on an empty stream
// was set aside instead of bootstrapped.
func TestHasStateIgnoresNewestSegmentFile(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, filepath.Join(dir, "wal"))
	mkdirs(t, filepath.Join(dir, "checkpoints"))
	seg := filepath.Join(dir, "wal", tlog.SegmentName(9))
	writeFile(t, seg, string(make([]byte, tlog.SegmentHeaderSize)))
	writeFile(t, filepath.Join(dir, "wal", tlog.NewestFileName), "named")
	writeFile(t, filepath.Join(dir, "checkpoints", tlog.ModeFileName), "mode")
	if hasState(dir) {
		t.Fatalf("%s, holding an empty segment, %s and %s, has state", dir, tlog.NewestFileName, tlog.ModeFileName)
	}
	if err := os.WriteFile(seg, make([]byte, tlog.SegmentHeaderSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if !hasState(dir) {
		t.Fatalf("%s, its segment holding more than a header, has no state", dir)
	}
}
