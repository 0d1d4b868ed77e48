package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestHeldNothingWarningSaysWhatWasChecked: check accepts a LOCK beside
// nothing a bus reads as a bus that held nothing, which a bus written
// before checkpoints/log-mode existed whose wal/ was emptied cannot be
// told from (its LOCK is empty, and it leaves no other file). The warning
// said only "if it held commits, restore its files from a backup": it
// names now what check looked at, each directory as it found it (missing,
// or holding none of a bus's files), the case it cannot tell apart, and
// where an operator looks before an Open makes a new bus there (a backup
// of wal/, and when wal/ last changed, when there is one).
func TestHeldNothingWarningSaysWhatWasChecked(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  func(dir string) []string
		not   []string
	}{
		{"LOCK beside empty wal/ and checkpoints/", map[string]string{"LOCK": "", "wal/": "", "checkpoints/": ""}, func(dir string) []string {
			return []string{
				"checked: " + filepath.Join(dir, "wal") + " is empty",
				filepath.Join(dir, "checkpoints") + " holds no checkpoint (final or being written) and no log-mode file",
				dir + " holds nothing else that no bus makes",
				"a bus written before the log-mode file existed (2026-12-06) whose wal/ was emptied",
				"a backup of " + filepath.Join(dir, "wal"),
				"when " + filepath.Join(dir, "wal") + " last changed",
			}
		}, nil},
		{"LOCK alone", map[string]string{"LOCK": ""}, func(dir string) []string {
			return []string{
				"checked: " + filepath.Join(dir, "wal") + " is missing; " + filepath.Join(dir, "checkpoints") + " is missing",
				"a backup of " + filepath.Join(dir, "wal"),
			}
		}, []string{"last changed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			makeTree(t, dir, tc.files)
			r := runCLI(t, "check", dir)
			var warning string
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasPrefix(l, "WARNING "+dir+": ") {
					warning = l
				}
			}
			if r.code != exitOK || warning == "" {
				t.Fatalf("check: exit %d, want %d and a warning:\n%s%s", r.code, exitOK, r.stdout, r.stderr)
			}
			for _, want := range tc.want(dir) {
				if !strings.Contains(warning, want) {
					t.Errorf("warning lacks %q:\n%s", want, warning)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(warning, not) {
					t.Errorf("warning says %q:\n%s", not, warning)
				}
			}
			rj := runCLI(t, "check", "--json", dir)
			var rep checkReport
			rj.decodeJSON(t, &rep)
			if rj.code != exitOK || len(rep.Warnings) != 1 || "WARNING "+rep.Warnings[0].File+": "+rep.Warnings[0].Reason != warning {
				t.Errorf("check --json: exit %d, warnings %+v, want the one warning of the text output", rj.code, rep.Warnings)
			}
		})
	}
}
