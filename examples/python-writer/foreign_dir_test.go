package pythonwriter_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriterRefusesAnotherProgramsDirectory: writer.py refuses, with one
// line and status 1 and nothing written, a directory that holds files no
// bus makes and no bus, in mmsb serve --dir's words (docs/cli.md, "Data
// directories"). It made LOCK, wal/ and checkpoints/ beside the user's
// files, exit 0. The controls: an empty directory, one holding only an
// empty wal/ (a first Open that stopped early, which serve takes too), and
// the writer's own bus with a file beside it.
func TestWriterRefusesAnotherProgramsDirectory(t *testing.T) {
	py, lib := library(t)
	run := func(dir string) (string, int) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, "writer.py", dir)
		cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	own := filepath.Join(t.TempDir(), "own")
	if out, status := run(own); status != 0 {
		t.Fatalf("writer.py on a new directory: status %d; output:\n%s", status, out)
	}
	for _, tc := range []struct {
		name  string
		files []string // made before the run ("/" at the end: a directory)
		dir   string   // instead of a new one
		want  string   // "": the run goes on
	}{
		{name: "empty", files: []string{}},
		{name: "only wal", files: []string{"wal/"}},
		// What a fresh disk holds is nobody's data, as mmsb decides
		// (mountMetadata): the writer refused a macOS or freedesktop
		// disk's .DS_Store and trash as another program's files.
		{name: "a fresh disk's own files", files: []string{".DS_Store", ".Trashes/", ".Trash-1000/", "wal/", "wal/lost+found/"}},
		{name: "a program's files", files: []string{"t", "t.py"}, want: "it holds t, t.py, and no bus"},
		{name: "a file in wal", files: []string{"wal/", "wal/notes"}, want: "it holds wal/notes, and no bus"},
		{name: "four files", files: []string{"a", "b", "c", "d"}, want: "it holds a, b, c and 1 more, and no bus"},
		{name: "own bus and a file", dir: own, files: []string{"notes.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = filepath.Join(t.TempDir(), "x")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				var err error
				if d, ok := strings.CutSuffix(f, "/"); ok {
					err = os.Mkdir(filepath.Join(dir, d), 0o755)
				} else {
					err = os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			out, status := run(dir)
			if tc.want == "" {
				if status != 0 {
					t.Fatalf("writer.py %s: status %d, want 0; output:\n%s", dir, status, out)
				}
				return
			}
			want := "writer.py: not an MMSB data directory: " + dir + ": " + tc.want +
				": a bus is made only in a new or empty directory (give one, e.g. a subdirectory); nothing was changed\n"
			if status != 1 || out != want {
				t.Fatalf("writer.py %s: status %d, output:\n%s\nwant status 1 and:\n%s", dir, status, out, want)
			}
			notMade(t, dir)
		})
	}

	// bench.py --dir, which made its bus of 65,536 pages beside the files.
	dir := filepath.Join(t.TempDir(), "x")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t.py"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "bench.py", "--batches", "2", "--rounds", "1", "--single", "2", "--dir", dir)
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	want := "bench.py: not an MMSB data directory: " + dir + ": it holds t.py, and no bus: "
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.HasPrefix(string(out), want) {
		t.Fatalf("bench.py --dir %s: %v, output:\n%s\nwant status 1 and %q", dir, err, out, want)
	}
	notMade(t, dir)
}

// notMade fails the test if dir holds a bus's LOCK or checkpoints/.
func notMade(t *testing.T, dir string) {
	t.Helper()
	for _, made := range []string{"LOCK", "checkpoints"} {
		if _, err := os.Lstat(filepath.Join(dir, made)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s was made (%v)", dir, made, err)
		}
	}
}
