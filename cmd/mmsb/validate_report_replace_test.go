package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// TestValidateReportReplacesOnlyAnEarlierReport: validate --report DIR
// wrote index.html and its charts into any directory after the run,
// replacing a site's index.html, or put them among a bus's segments in
// its wal/. Such a DIR is now a usage error before any benchmark runs,
// naming the file or the bus, and left as it was (harness.CheckReportDir;
// WriteHTMLReport checks again before it renames).
func TestValidateReportReplacesOnlyAnEarlierReport(t *testing.T) {
	site := t.TempDir()
	page := []byte("<html>my site</html>")
	if err := os.WriteFile(filepath.Join(site, harness.ReportFile), page, 0o644); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(newTestBus(t).dir, "wal")
	for _, tc := range []struct{ dir, want string }{
		{site, filepath.Join(site, harness.ReportFile) + " exists and is not an earlier report"},
		{wal, "it is a bus's directory"},
	} {
		walBefore := listTree(t, wal)
		r := runCLI(t, "validate", "--quick", "--no-progress", "--only", "1", "--report", tc.dir).mustCode(t, exitUsage)
		if !strings.Contains(r.stderr, "--report "+tc.dir+": ") || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("--report %s: stderr %q (stdout %q), want %q before the run", tc.dir, r.stderr, r.stdout, tc.want)
		}
		if after := listTree(t, wal); strings.Join(after, "\n") != strings.Join(walBefore, "\n") {
			t.Errorf("wal/ changed: %q, was %q", after, walBefore)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(site, harness.ReportFile)); string(b) != string(page) {
		t.Errorf("the site's index.html was replaced (%d bytes)", len(b))
	}
}
