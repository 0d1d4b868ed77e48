package harness

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// TestHistoryAppendsOnlyToAnEarlierHistory: AppendHistory appended a
// line to any history.jsonl, in any directory (another program's
// history.jsonl, a bus's wal/). It now appends only to an earlier
// history (or an empty file) in no bus's directory, the rule of
// validate --report (CheckHistoryDir); the rest is refused with
// ErrNotAnOutput naming it, and left as it was.
func TestHistoryAppendsOnlyToAnEarlierHistory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"another program's history.jsonl", map[string]string{HistoryFile: `{"event":"deploy"}` + "\n"}, HistoryFile + " exists and is not an earlier history"},
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
			err := AppendHistory(dir, syntheticReport())
			if !errors.Is(err, ErrNotAnOutput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("AppendHistory: %v, want ErrNotAnOutput with %q", err, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tc.files) {
				t.Errorf("files after the refusal: %v, want only %v", entries, tc.files)
			}
			for name, data := range tc.files {
				if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != data {
					t.Errorf("%s was changed (%q)", name, b)
				}
			}
		})
	}
	t.Run("an earlier history, and an empty one", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new", "history")
		for range 2 {
			if err := AppendHistory(dir, syntheticReport()); err != nil {
				t.Fatal(err)
			}
		}
		if h, err := ReadHistory(dir); err != nil || len(h) != 2 {
			t.Errorf("history: %d entries, %v; want 2", len(h), err)
		}
		empty := t.TempDir()
		if err := os.WriteFile(filepath.Join(empty, HistoryFile), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := AppendHistory(empty, syntheticReport()); err != nil {
			t.Errorf("AppendHistory to an empty %s: %v", HistoryFile, err)
		}
	})
}

// TestChartsReplaceOnlyEarlierCharts: bench --plot wrote its charts over
// any file of their names, in any directory (a bus's included). WriteCharts
// now replaces only earlier charts (PNGs) in no bus's directory, checked
// again before the rename; a refusal leaves the directory as it was and
// no temporary file.
func TestChartsReplaceOnlyEarlierCharts(t *testing.T) {
	png := func(w io.Writer) error { _, err := w.Write(append(bytes.Clone(pngMagic), "chart"...)); return err }
	charts := []ChartFile{{Name: "growth-a.png", WriteTo: png}, {Name: "growth-b.png", WriteTo: png}}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a user's file named as a chart", map[string]string{"growth-b.png": "notes"}, "growth-b.png exists and is not a PNG chart"},
		{"a bus's wal/", map[string]string{tlog.SegmentName(3): "segment"}, "it is a bus's directory"},
		{"a bus's directory", map[string]string{"LOCK": ""}, "holds LOCK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteCharts(dir, charts)
			if !errors.Is(err, ErrNotAnOutput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WriteCharts: %v, want ErrNotAnOutput with %q", err, tc.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(tc.files) {
				t.Errorf("files after the refusal: %v, want only %v", entries, tc.files)
			}
			for name, data := range tc.files {
				if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != data {
					t.Errorf("%s was replaced (%q)", name, b)
				}
			}
		})
	}
	t.Run("made while the run went on", func(t *testing.T) {
		dir := t.TempDir()
		user := []byte("made meanwhile")
		chartsBeforeRecheck = func() {
			if err := os.WriteFile(filepath.Join(dir, "growth-a.png"), user, 0o644); err != nil {
				t.Error(err)
			}
		}
		t.Cleanup(func() { chartsBeforeRecheck = func() {} })
		if err := WriteCharts(dir, charts); !errors.Is(err, ErrNotAnOutput) {
			t.Errorf("WriteCharts: %v, want ErrNotAnOutput", err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "growth-a.png")); !bytes.Equal(b, user) {
			t.Errorf("growth-a.png was replaced (%q)", b)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("files: %v, want only growth-a.png", entries)
		}
	})
	t.Run("earlier charts", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "plots")
		for range 2 {
			if err := WriteCharts(dir, charts); err != nil {
				t.Fatal(err)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != len(charts) {
			t.Errorf("files: %v, want the %d charts", entries, len(charts))
		}
	})
}
