package harness

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestReportReplacesOnlyAnEarlierReport: WriteHTMLReport wrote index.html
// and its charts into any directory, replacing what it held (--report
// ~/site replaced the site's index.html and memory.png; --report DATA/wal
// put them among the bus's segments). It now replaces only an earlier
// report's files (CheckReportDir), and refuses the rest with
// ErrNotAReport naming the file, leaving the directory as it was and no
// temporary file; an earlier report is replaced.
func TestReportReplacesOnlyAnEarlierReport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a site's index.html", map[string]string{ReportFile: "<html>my site</html>"}, ReportFile + " exists and is not an earlier report"},
		{"a user's PNG beside no report", map[string]string{"memory.png": "\x89PNG\r\n\x1a\nmine"}, "memory.png exists beside no earlier index.html"},
		{"a user's file named as a chart", map[string]string{ReportFile: reportHead, "stability.png": "notes"}, "stability.png exists and is not a PNG chart"},
		{"a bus's wal/", map[string]string{tlog.SegmentName(1): "segment"}, "it is a bus's directory"},
		{"a bus's directory", map[string]string{"LOCK": ""}, "holds LOCK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := WriteHTMLReport(dir, syntheticReport())
			if !errors.Is(err, ErrNotAReport) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteHTMLReport: %v, want ErrNotAReport with %q", err, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tc.files) {
				t.Errorf("files after the refusal: %v, want only %v", entries, tc.files)
			}
			for name, data := range tc.files {
				if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != data {
					t.Errorf("%s was replaced (%d bytes)", name, len(b))
				}
			}
		})
	}
	t.Run("the wal/ of a bus that held nothing", func(t *testing.T) {
		bus := t.TempDir()
		wal := filepath.Join(bus, "wal")
		if err := os.Mkdir(wal, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bus, "LOCK"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteHTMLReport(wal, syntheticReport()); !errors.Is(err, ErrNotAReport) {
			t.Errorf("WriteHTMLReport into %s: %v, want ErrNotAReport", wal, err)
		}
		t.Chdir(wal) // --report . run in it
		if _, err := WriteHTMLReport(".", syntheticReport()); !errors.Is(err, ErrNotAReport) {
			t.Errorf("WriteHTMLReport into . (%s): %v, want ErrNotAReport", wal, err)
		}
		if entries, _ := os.ReadDir(wal); len(entries) != 0 {
			t.Errorf("files in wal/: %v", entries)
		}
	})
	t.Run("an earlier report", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new", "report")
		for range 2 {
			if _, err := WriteHTMLReport(dir, syntheticReport()); err != nil {
				t.Fatal(err)
			}
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
		if len(entries) != 1+len(chartSpecs) {
			t.Errorf("files: %v, want index.html and %d charts", entries, len(chartSpecs))
		}
	})
}

// TestReportCheckedAgainBeforeRename: a file made at index.html while the
// report was written (the run before it takes minutes) is left as it is:
// the second check refuses it, and nothing of the report is put in place.
func TestReportCheckedAgainBeforeRename(t *testing.T) {
	dir := t.TempDir()
	user := []byte("<html>made while the benchmarks ran</html>")
	reportBeforeRecheck = func() {
		if err := os.WriteFile(filepath.Join(dir, ReportFile), user, 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { reportBeforeRecheck = func() {} })
	if _, err := WriteHTMLReport(dir, syntheticReport()); !errors.Is(err, ErrNotAReport) {
		t.Errorf("WriteHTMLReport: %v, want ErrNotAReport", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ReportFile)); !bytes.Equal(b, user) {
		t.Errorf("%s was replaced (%d bytes)", ReportFile, len(b))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files: %v, want only %s", entries, ReportFile)
	}
}
