package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReplayOutWrittenWhereItLeads: replay writes DIR2 where --out leads.
// Named as given, "." (an empty current directory, whose parent is itself)
// failed after the whole replay with "write .: remove .: invalid
// argument", and a symbolic link to an empty directory was removed and
// replaced by the new directory while the directory it named stayed empty.
// A link to nothing is refused, and left as it was.
func TestReplayOutWrittenWhereItLeads(t *testing.T) {
	tb := newTestBus(t)
	tests := []struct {
		name string
		// setup makes the --out argument (the test's current directory is
		// a fresh empty one) and returns it with the directory that must
		// then hold DIR2 ("" when the replay must fail).
		setup func(t *testing.T, cwd string) (out, holds string)
		code  int
		want  string // in stderr, when the replay fails
	}{
		{"dot", func(t *testing.T, cwd string) (string, string) { return ".", cwd }, exitOK, ""},
		{"link to an empty directory", func(t *testing.T, cwd string) (string, string) {
			target := t.TempDir()
			if err := os.Symlink(target, "link"); err != nil {
				t.Fatal(err)
			}
			return "link", target
		}, exitOK, ""},
		{"link to nothing", func(t *testing.T, cwd string) (string, string) {
			if err := os.Symlink(filepath.Join(cwd, "missing", "dir"), "link"); err != nil {
				t.Fatal(err)
			}
			return "link", ""
		}, exitFailure, "symbolic link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cwd := t.TempDir()
			t.Chdir(cwd)
			out, holds := tc.setup(t, cwd)
			linkBefore, _ := os.Readlink(out)
			r := runCLI(t, "replay", "--json", tb.dir, "--out", out).mustCode(t, tc.code)
			if linkAfter, _ := os.Readlink(out); linkAfter != linkBefore {
				t.Errorf("--out %s was a link to %q, now %q: replay replaced it", out, linkBefore, linkAfter)
			}
			if tc.code != exitOK {
				if !strings.Contains(r.stderr, tc.want) {
					t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
				}
				return
			}
			var res replayResult
			r.decodeJSON(t, &res)
			bus, err := mmsb.Open(holds, &mmsb.Options{AllowMissingFunctions: true})
			if err != nil {
				t.Fatalf("%s does not hold the replayed bus: %v", holds, err)
			}
			defer bus.Close()
			if got := hash64(hashOf(t, bus)); uint64(bus.LastLSN()) != res.LSN || got != res.StateHash {
				t.Errorf("%s holds LSN %d hash %s, replay printed LSN %d hash %s", holds, bus.LastLSN(), got, res.LSN, res.StateHash)
			}
		})
	}
}
