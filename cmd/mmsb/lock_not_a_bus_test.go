package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLockAloneIsNoBusTrace: a file named LOCK is what many programs lock
// their directory with (LevelDB, Badger, Pebble). Taken alone for a bus's
// trace, it made check and checkpoint call a LevelDB directory that has a
// wal/ of its own (so that it passes requireDataDir) "the bus's files are
// lost ... restore them from a backup": an operator told to restore a bus
// that never existed. Beside files no bus makes it is no trace: such a
// directory is another program's ("no bus ran there"). Beside only what a
// bus makes (an empty wal/ and checkpoints/) it is a bus that held
// nothing: a first Open that stopped before its first segment, or the
// way out of a bus whose files were lost (TestLostFilesWayOut). Open
// makes it a new bus, and check accepts it with a warning that says what
// the files cannot tell apart (a bus from before log-mode existed whose
// wal/ was emptied); it refused it as lost files until 2026-12-07.
func TestLockAloneIsNoBusTrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"LevelDB with its own wal/", map[string]string{"LOCK": "", "CURRENT": "MANIFEST-000001\n", "MANIFEST-000001": "x", "wal/000003.log": "x"}},
		{"LevelDB with an empty wal/", map[string]string{"LOCK": "", "CURRENT": "MANIFEST-000001\n", "MANIFEST-000001": "x", "wal/": ""}},
		{"LOCK and a wal/ of another program's files", map[string]string{"LOCK": "", "wal/000003.log": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "other")
			makeTree(t, dir, tc.files)
			for _, cmd := range []string{"check", "checkpoint"} {
				r := runCLI(t, cmd, dir)
				out := r.stdout + r.stderr
				if r.code != exitFailure || !strings.Contains(out, "no bus ran there") || strings.Contains(out, "files are lost") {
					t.Errorf("mmsb %s of another program's directory with a LOCK: exit %d, want %d and \"no bus ran there\", not \"files are lost\":\n%s",
						cmd, r.code, exitFailure, out)
				}
			}
		})
	}
	t.Run("LOCK beside an empty bus", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		makeTree(t, dir, map[string]string{"LOCK": "", "wal/": "", "checkpoints/": ""})
		r := runCLI(t, "check", dir)
		if out := r.stdout + r.stderr; r.code != exitOK || !strings.Contains(out, "WARNING "+dir+": no log segment, no checkpoint") ||
			!strings.Contains(out, "a bus that held nothing") || strings.Contains(out, "no bus ran there") {
			t.Errorf("check of LOCK beside an empty wal/ and checkpoints/: exit %d, want %d and a warning naming a bus that held nothing:\n%s", r.code, exitOK, out)
		}
	})
}
