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
// --out. The control replays the intact directory. A wal/ made again by
// hand (empty) was the loss accepted until checkpoints/log-mode; it is a
// log emptied of its segments now, refused the same way.
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
		{"log removed and made again empty", true, true, true, exitFailure, 0},
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
			want := "has checkpoints/ but no wal/"
			if c.remakeLog {
				want = "holds no log segment"
			}
			if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, wal) {
				t.Errorf("stderr %q, want it to name %s and say %q", r.stderr, wal, want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the refused replay wrote %s (stat: %v)", out, err)
			}
			if _, err := os.Stat(wal); !c.remakeLog && !os.IsNotExist(err) {
				t.Errorf("the refused replay made %s (stat: %v)", wal, err)
			}
		})
	}
}
