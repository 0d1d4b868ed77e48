//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckPassesOverNonFileCheckpointName: a directory (with a file in
// it) or a named pipe under a checkpoint's name past the log's end is
// passed over by check as Open passes over it: a WARNING naming the path,
// in the words of Recovery().SkippedCheckpoint, in the text and in the
// JSON's warnings, and the check passes. Before, check reported it as a
// checkpoint that does not load ("not a regular file but a directory"),
// and the integrity validator as a checkpoint past the log's end
// ("committed operations 33..103 are missing"): 2 problems in a directory
// Open recovers from. A damaged checkpoint FILE under such a name stays
// a problem.
func TestCheckPassesOverNonFileCheckpointName(t *testing.T) {
	plant := map[string]func(t *testing.T, path string){
		"directory": func(t *testing.T, path string) {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(path, "notes"), []byte("the operator's"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"fifo": func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				testutil.Missing(t, "mkfifo: %v", err)
			}
		},
	}
	for _, name := range []string{"directory", "fifo"} {
		t.Run(name, func(t *testing.T) {
			tb := newTestBus(t)
			bad := filepath.Join(tb.dir, "checkpoints", checkpoint.FileName(100003))
			plant[name](t, bad)
			r := runCLI(t, "check", "--no-progress", tb.dir)
			if r.code != exitOK || strings.Contains(r.stdout, "PROBLEM") {
				t.Fatalf("check beside a %s under a checkpoint's name: exit %d, want %d (passed over as Open does):\n%s%s", name, r.code, exitOK, r.stdout, r.stderr)
			}
			want := "WARNING " + bad + ": "
			if !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "holds no checkpoint file, so it is not a checkpoint: passed over") {
				t.Fatalf("check does not warn %q ... passed over:\n%s", want, r.stdout)
			}
			if !strings.Contains(r.stdout, "checkpoints: 1 of 1 valid") {
				t.Errorf("the name is counted among the checkpoints:\n%s", r.stdout)
			}
			var rep checkReport
			runCLI(t, "check", "--no-progress", "--json", tb.dir).mustCode(t, exitOK).decodeJSON(t, &rep)
			if !rep.OK || len(rep.Problems) != 0 || len(rep.Warnings) != 1 || rep.Warnings[0].File != bad {
				t.Fatalf("check --json: ok %v, problems %v, warnings %v; want ok and one warning naming %s", rep.OK, rep.Problems, rep.Warnings, bad)
			}
			if _, err := os.Lstat(bad); err != nil {
				t.Errorf("%s: %v (check must leave it as it is)", bad, err)
			}
		})
	}
	t.Run("damaged-file", func(t *testing.T) {
		tb := newTestBus(t)
		bad := filepath.Join(tb.dir, "checkpoints", checkpoint.FileName(100003))
		ckpts, err := checkpoint.List(vfs.Default, filepath.Join(tb.dir, "checkpoints"))
		if err != nil || len(ckpts) == 0 {
			t.Fatalf("checkpoints: %v %v", ckpts, err)
		}
		b, err := os.ReadFile(ckpts[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xFF
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "check", "--no-progress", tb.dir).mustCode(t, exitFailure)
		if !strings.Contains(r.stdout, "PROBLEM "+bad) || strings.Contains(r.stdout, "WARNING") {
			t.Fatalf("a damaged checkpoint file is not a problem naming %s:\n%s", bad, r.stdout)
		}
	})
}
