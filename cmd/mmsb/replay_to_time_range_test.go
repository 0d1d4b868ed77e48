package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplayToTimeOutsideStampRange: commits are stamped in int64
// nanoseconds since 1970, so a --to-time that no such stamp can hold is a
// usage error naming the range. time.Time.UnixNano wrapped them: year 2999
// replayed nothing (LSN 0), year 1600 and 1970-01-01T00:00:00Z (stamp 0,
// "no time target") replayed everything, each with exit status 0. The
// ends of the range still replay: nothing just after 1970, everything at
// the last stamp.
func TestReplayToTimeOutsideStampRange(t *testing.T) {
	tb := newTestBus(t)
	tests := []struct {
		name, toTime string
		code         int
		wantLSN      uint64 // exitOK only
	}{
		{"far future", "2999-01-01T00:00:00Z", exitUsage, 0},
		{"one ns past the last stamp", "2262-04-11T23:47:16.854775808Z", exitUsage, 0},
		{"before 1970", "1600-01-01T00:00:00Z", exitUsage, 0},
		{"the epoch itself", "1970-01-01T00:00:00Z", exitUsage, 0},
		{"integer past int64", "99999999999999999999", exitUsage, 0},
		{"first stamp", "1970-01-01T00:00:00.000000001Z", exitOK, 0},
		{"last stamp", "2262-04-11T23:47:16.854775807Z", exitOK, uint64(tb.lastLSN)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "o")
			args := []string{"replay", tb.dir, "--to-time", tc.toTime, "--out", out}
			if tc.code != exitOK {
				r := runCLI(t, args...).mustCode(t, tc.code)
				if !strings.Contains(r.stderr, "--to-time") || !strings.Contains(r.stderr, "out of range") {
					t.Errorf("stderr %q does not say that --to-time is out of range", r.stderr)
				}
				if _, err := os.Stat(out); !os.IsNotExist(err) {
					t.Errorf("a refused replay created %s", out)
				}
				return
			}
			if res := replayJSON(t, tb.dir, "--to-time", tc.toTime, "--out", out); res.LSN != tc.wantLSN {
				t.Errorf("--to-time %s replayed to LSN %d, want %d", tc.toTime, res.LSN, tc.wantLSN)
			}
		})
	}
}
