// Package writertest runs examples/cpp/writer.cpp on arguments and
// buses the README's plain run does not cover (bindings/c's TestExamples
// runs that one and compares its state hash with mmsb inspect). It builds
// libmmsb.so and the writer with the README's commands and needs gcc and
// g++; without them it is skipped (a failure under MMSB_REQUIRE_EXTERNAL).
package writertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// buildWriter builds libmmsb.so and writer.cpp into a temporary directory.
func buildWriter(t *testing.T) string {
	t.Helper()
	testutil.LookPath(t, "gcc") // to build libmmsb.so
	gxx := testutil.LookPath(t, "g++")
	goTool := testutil.LookPath(t, "go")
	bin := t.TempDir()
	lib := filepath.Join(bin, "libmmsb.so")
	root := filepath.Join("..", "..", "..")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", lib, "./bindings/c")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=c-shared: %v\n%s", err, out)
	}
	exe := filepath.Join(bin, "cpp-writer")
	cmd = exec.Command(gxx, "-std=c++20", "-O2", "-Wall", "-Werror", "-Ibindings/c", "-Ibindings/cpp",
		"-o", exe, "examples/cpp/writer.cpp", "-L"+bin, "-lmmsb", "-Wl,-rpath,"+bin)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("g++ writer.cpp: %v\n%s", err, out)
	}
	return exe
}

// buildReader builds reader.cpp (header-only: no library to link).
func buildReader(t *testing.T) string {
	t.Helper()
	gxx := testutil.LookPath(t, "g++")
	exe := filepath.Join(t.TempDir(), "cpp-reader")
	cmd := exec.Command(gxx, "-std=c++20", "-O2", "-Wall", "-Werror", "-Ibindings/c", "-Ibindings/cpp",
		"-o", exe, "examples/cpp/reader.cpp")
	cmd.Dir = filepath.Join("..", "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("g++ reader.cpp: %v\n%s", err, out)
	}
	return exe
}

// exitStatus runs cmd and returns its combined output and exit status.
func exitStatus(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// countersMark is the metadata writer.cpp puts on the pages it creates.
var countersMark = []mmsb.MetaEntry{{Key: "example", Value: []byte("cpp counters")}, {Key: mmsb.TypeMetaKey, Value: []byte("i64")}}

// signalMark is what python-reader's writer puts on its signals (pages of
// 1 KiB, as the counters').
var signalMark = []mmsb.MetaEntry{{Key: "example", Value: []byte("python-reader signal")}, {Key: mmsb.TypeMetaKey, Value: []byte("f64")}}

// makeBus creates a bus in dir with n pages of size bytes (none: no bus),
// each with metadata meta.
func makeBus(t *testing.T, dir string, n, size int, meta []mmsb.MetaEntry) {
	t.Helper()
	if n == 0 {
		return
	}
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i].Size = size
		specs[i].Meta = meta
	}
	if _, err := bus.CreatePages(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWriterRefusesBadArgumentsAndOtherShapes: writer.cpp refuses, with
// one line and exit status 1, an argument that is not [DIR] [--shared] and
// a bus that is not its table of counters (pages 1..8 of 1,024 bytes). A
// mistyped --shared was ignored (a plain run, exit 0); a bus of 16-byte
// pages was read past the pages' end and then failed mid-batch with
// MMSB_ERR_OUT_OF_RANGE; python-writer's heat grid (64 pages of 2,048
// bytes) got 100,000 increments written into its first 8 rows, exit 0.
// The cases that must run (a new bus, a bus of the right shape with the
// writer's mark, as a second run finds it) are the controls. Pages of the
// right shape without the mark (another program's, python-reader's
// signals) are refused too: TestWriterLeavesOtherProgramsPagesAlone.
func TestWriterRefusesBadArgumentsAndOtherShapes(t *testing.T) {
	writer := buildWriter(t)
	for _, tc := range []struct {
		name        string
		pages, size int              // the bus made before the run (0 pages: none)
		meta        []mmsb.MetaEntry // on each of its pages
		args        []string         // after the bus directory ("-" first: instead of it)
		wantStatus  int
		want        string // in the output
	}{
		{"new bus", 0, 0, nil, nil, 0, "sum of counters 100000"},
		{"right shape", 8, 1024, countersMark, nil, 0, "sum of counters 100000"},
		{"mistyped --shared", 0, 0, nil, []string{"--shraed"}, 1, "usage:"},
		{"extra argument", 0, 0, nil, []string{"--shared", "x"}, 1, "usage:"},
		{"flag for a directory", 0, 0, nil, []string{"-", "--shared"}, 1, "usage:"},
		{"small pages", 8, 16, countersMark, nil, 1, "page 1 is 16 bytes, want 1024: not this example's counters"},
		{"heat grid", 64, 2048, nil, nil, 1, "has 64 pages, want 8"},
		{"fewer pages", 4, 1024, countersMark, nil, 1, "has 4 pages, want 8"},
		{"unmarked pages", 8, 1024, nil, nil, 1, `page 1 has no metadata example="cpp counters"`},
		{"python-reader signals", 8, 1024, signalMark, nil, 1, `page 1 has no metadata example="cpp counters"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "counters")
			makeBus(t, dir, tc.pages, tc.size, tc.meta)
			args := append([]string{dir}, tc.args...)
			if len(tc.args) > 0 && tc.args[0] == "-" {
				args = tc.args[1:]
			}
			cmd := exec.Command(writer, args...)
			cmd.Dir = t.TempDir() // a refused "--shared" directory would land here
			out, status := exitStatus(t, cmd)
			if status != tc.wantStatus || !strings.Contains(out, tc.want) {
				t.Fatalf("cpp-writer %q: status %d, want %d with %q; output:\n%s", args, status, tc.wantStatus, tc.want, out)
			}
			if tc.wantStatus != 0 && strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Errorf("cpp-writer %q: want one line, got:\n%s", args, out)
			}
		})
	}
}

// TestReaderRefusesBadArguments: reader.cpp takes one argument, the bus
// directory. A flag or a second argument was ignored, and a flag taken for
// the directory waited 5 s for a writer before "writer gone". Each case
// now prints the usage line and exits with status 1 at once.
func TestReaderRefusesBadArguments(t *testing.T) {
	reader := buildReader(t)
	for _, args := range [][]string{{"--count", "5"}, {"dir", "extra"}, {"-h"}} {
		cmd := exec.Command(reader, args...)
		cmd.Dir = t.TempDir()
		out, status := exitStatus(t, cmd)
		if status != 1 || !strings.HasPrefix(out, "usage: ") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("cpp-reader %q: status %d, want 1 with one usage line; output:\n%s", args, status, out)
		}
	}
}
