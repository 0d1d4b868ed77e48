// Package pythonwriter_test runs examples/python-writer/writer.py on
// buses the README's plain run does not cover (bindings/c's TestExamples
// runs that one and compares its state hash with mmsb inspect). It builds
// libmmsb.so with the documented command and needs gcc and Debian's
// python3 with numpy; without them it is skipped.
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

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// library builds libmmsb.so into a temporary directory, or reports what is
// missing (testutil.Missing: a skip, or a failure in CI).
func library(t *testing.T) (py, lib string) {
	t.Helper()
	py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy is needed to run writer.py: %v %s", py, err, out)
	}
	testutil.LookPath(t, "gcc") // to build libmmsb.so
	goTool := testutil.LookPath(t, "go")
	lib = filepath.Join(t.TempDir(), "libmmsb.so")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", lib, "./bindings/c")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=c-shared: %v\n%s", err, out)
	}
	return py, lib
}

// TestWriterAfterInterruptedFirstRun: a first run stopped between creating
// the 64 row pages and its first commit leaves a bus whose grid is all
// zeros; run again, writer.py has no cell to change and must still report
// (it used to fail with UnboundLocalError on the batch it never committed).
func TestWriterAfterInterruptedFirstRun(t *testing.T) {
	py, lib := library(t)
	dir := filepath.Join(t.TempDir(), "heat")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]mmsb.PageSpec, 64)
	for i := range specs {
		specs[i].Size = 256 * 8
	}
	if _, err := bus.CreatePages(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "writer.py", dir)
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 writes in the last step, replay equal: True") ||
		!strings.Contains(string(out), "state hash") {
		t.Fatalf("writer.py on a bus of zero rows: %v, want a report of 0 writes and replay equal; output:\n%s", err, out)
	}
}

// TestWriterRefusesOtherShape: writer.py pointed at a bus whose pages are
// not its grid's (64 pages, 1..64, of 2,048 bytes) prints one error line
// naming what differs and exits with status 1. It printed a Python
// traceback instead (PageNotFound from the reader, or numpy's ValueError
// from stacking rows of another length). The right shape is the control:
// TestWriterAfterInterruptedFirstRun runs the same code on it and passes.
func TestWriterRefusesOtherShape(t *testing.T) {
	py, lib := library(t)
	for _, tc := range []struct {
		name  string
		specs func() []mmsb.PageSpec
		want  string
	}{
		{"fewer pages", func() []mmsb.PageSpec { return pageSpecs(10, 2048, 0) }, "has 10 pages, want 64"},
		{"more pages", func() []mmsb.PageSpec { return pageSpecs(65, 2048, 0) }, "has 65 pages, want 64"},
		{"other page size", func() []mmsb.PageSpec { return pageSpecs(64, 1024, 0) }, "page 1 is 1024 bytes, want 2048"},
		{"one row longer", func() []mmsb.PageSpec {
			s := pageSpecs(64, 2048, 0)
			s[40].Size = 4096
			return s
		}, "page 41 is 4096 bytes, want 2048"},
		{"other page IDs", func() []mmsb.PageSpec { return pageSpecs(64, 2048, 100) }, "has no page 1, want pages 1..64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "other")
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePages(context.Background(), tc.specs()); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, "writer.py", dir)
			cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Errorf("writer.py on a bus of another shape: %v, want exit status 1; output:\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "writer.py: bus ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("writer.py on a bus of another shape printed:\n%s\nwant one line naming %q", out, tc.want)
			}
		})
	}
}

// pageSpecs is n page specs of size bytes, with IDs from first+1 (first
// 0: the bus assigns them).
func pageSpecs(n, size int, first mmsb.PageID) []mmsb.PageSpec {
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i].Size = size
		if first != 0 {
			specs[i].ID = first + mmsb.PageID(i) + 1
		}
	}
	return specs
}

// TestWriterRefusesBadArguments: writer.py takes one argument, the bus
// directory; anything else prints its usage in one line with exit status
// 1 and creates nothing. "--help" was taken for the directory (a bus made
// in ./--help, a run, exit 0) and a second argument was ignored; an empty
// one (writer.py "$DIR" with DIR unset) ran an in-memory bus, printed its
// state hash and exited 0, with nothing stored to continue from.
func TestWriterRefusesBadArguments(t *testing.T) {
	py, lib := library(t)
	for _, args := range [][]string{{"--help"}, {"-x"}, {"dir", "extra"}, {""}} {
		work := t.TempDir()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		script, err := filepath.Abs("writer.py")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(ctx, py, append([]string{script}, args...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		cancel()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 || strings.TrimSpace(string(out)) != "usage: writer.py [DIR]" {
			t.Errorf("writer.py %q: %v, want exit status 1 and the usage line; output:\n%s", args, err, out)
		}
		if entries, _ := os.ReadDir(work); len(entries) != 0 {
			t.Errorf("writer.py %q left %d entries in its working directory (%s...), want none", args, len(entries), entries[0].Name())
		}
	}
}
