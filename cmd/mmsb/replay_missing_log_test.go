package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayMissingLogDir: `mmsb replay --out` of a directory whose wal/
// was removed read the missing log as an empty one and wrote the newest
// checkpoint's state (or, with no checkpoint, an empty bus at LSN 0) as a
// new directory that opens and checks clean, exit 0: the lost commits were
// gone without a word. It refuses now, naming wal/, and writes nothing at
// --out. The controls replay the intact directory, and the damaged one once
// wal/ is made again by hand (the loss accepted).
func TestReplayMissingLogDir(t *testing.T) {
	for _, c := range []struct {
		name         string
		checkpointed bool
		removeLog    bool
		remakeLog    bool
		code         int
		wantLSN      uint64
	}{
		{"log removed, no checkpoint", false, true, false, exitFailure, 0},
		{"log removed after a checkpoint", true, true, false, exitFailure, 0},
		{"intact", true, false, false, exitOK, 9},
		{"log removed and made again empty", true, true, true, exitOK, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := missingLogBus(t, c.checkpointed)
			wal := filepath.Join(dir, "wal")
			if c.removeLog {
				if err := os.RemoveAll(wal); err != nil {
					t.Fatal(err)
				}
			}
			if c.remakeLog {
				if err := os.Mkdir(wal, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "out")
			r := runCLI(t, "replay", "--json", dir, "--out", out).mustCode(t, c.code)
			if c.code == exitOK {
				var res replayResult
				r.decodeJSON(t, &res)
				if res.LSN != c.wantLSN {
					t.Fatalf("replayed to LSN %d, want %d", res.LSN, c.wantLSN)
				}
				return
			}
			if !strings.Contains(r.stderr, "has checkpoints/ but no wal/") || !strings.Contains(r.stderr, wal) {
				t.Errorf("stderr %q, want it to say that %s is missing", r.stderr, wal)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the refused replay wrote %s (stat: %v)", out, err)
			}
			if _, err := os.Stat(wal); !os.IsNotExist(err) {
				t.Errorf("the refused replay made %s (stat: %v)", wal, err)
			}
		})
	}
}
