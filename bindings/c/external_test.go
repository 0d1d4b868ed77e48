package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// These tests build libmmsb.so into a temporary directory with the one
// documented command and run the programs that use it: the C test program
// (plain and under AddressSanitizer + UBSan), the C++ test program, and the
// Python writer's pytest suite. Missing gcc, g++ or Debian's python3 with
// numpy and pytest skip them, or fail them under MMSB_REQUIRE_EXTERNAL=1.

// repoRoot is the repository root, two levels up from bindings/c.
var repoRoot = filepath.Join("..", "..")

var built struct {
	once sync.Once
	dir  string // holds libmmsb.so and the mmsb CLI
	err  error
}

// goTool returns the go command: the one on PATH, else the toolchain's.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(build.Default.GOROOT, "bin", "go")
}

// buildLibrary builds libmmsb.so (and the mmsb CLI, for the state-hash
// comparison) once per test binary, into a directory that outlives the
// individual tests and is removed by TestMain.
func buildLibrary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		testutil.Missing(t, "gcc: cgo builds libmmsb.so with it (%v)", err)
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "mmsb-cabi-")
		if built.err != nil {
			return
		}
		root, err := filepath.Abs(repoRoot)
		if err != nil {
			built.err = err
			return
		}
		for _, args := range [][]string{
			{"build", "-buildmode=c-shared", "-o", filepath.Join(built.dir, "libmmsb.so"), "./bindings/c"},
			{"build", "-o", filepath.Join(built.dir, "mmsb"), "./cmd/mmsb"},
		} {
			cmd := exec.Command(goTool(), args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// compileAndRun compiles src (C or C++ by its compiler) against the
// library in lib with extra flags and runs it with a fresh data directory.
// It returns the program's output and an error when compiling fails, the
// program exits non-zero, or it does not print its "ok" line.
func compileAndRun(t *testing.T, compiler, src, lib string, flags []string, env ...string) (string, error) {
	t.Helper()
	exe := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)))
	args := append([]string{"-Wall", "-Werror"}, flags...)
	args = append(args, "-I.", "-I"+filepath.Join("..", "cpp"), "-o", exe, src,
		"-L"+lib, "-lmmsb", "-Wl,-rpath,"+lib, "-pthread")
	if out, err := exec.Command(compiler, args...).CombinedOutput(); err != nil {
		return string(out), fmt.Errorf("%s %s: %w", compiler, strings.Join(args, " "), err)
	}
	dir := filepath.Join(t.TempDir(), "bus")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command(exe, dir)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s failed: %w", filepath.Base(exe), err)
	}
	if !bytes.Contains(out, []byte(": ok")) {
		return string(out), errors.New(filepath.Base(exe) + " exited 0 without its ok line")
	}
	return string(out), nil
}

// sanitizers are the flags of the sanitized builds. ASan and UBSan work with
// the Go runtime in the same process here (gcc 12, Go 1.26): the Go heap is
// mmapped outside ASan's view and the runtime's signal handlers coexist.
// Leak detection stays on; it reports nothing, because the library frees
// its per-thread message blocks and Go memory is not malloc'd.
var sanitizers = []string{"-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"}

// runBuilds compiles src with compiler twice, plainly (-O2) and with the
// sanitizers, each time after the flags base, and runs each build as a
// subtest that must pass; env (may be nil) gives each run its
// environment, made afresh for every build.
func runBuilds(t *testing.T, compiler, src, lib string, base []string, env func(t *testing.T) []string) {
	t.Helper()
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"plain", append(slices.Clip(base), "-O2")},
		{"sanitized", append(slices.Clip(base), sanitizers...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var vars []string
			if env != nil {
				vars = env(t)
			}
			out, err := compileAndRun(t, compiler, src, lib, tc.flags, vars...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestCABI(t *testing.T) {
	lookPath(t, "gcc")
	runBuilds(t, "gcc", filepath.Join("test", "abi_test.c"), buildLibrary(t), nil, nil)
}

func TestCPP(t *testing.T) {
	lookPath(t, "g++")
	runBuilds(t, "g++", filepath.Join("test", "cpp_test.cpp"), buildLibrary(t), []string{"-std=c++20"}, nil)
}

// TestCProgramFailureIsCaught is the negative control of the C runner: a
// program that fails one check (the status of a call on handle 0) is
// reported as a failure, and so is one that exits 0 without its ok line.
func TestCProgramFailureIsCaught(t *testing.T) {
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	for name, body := range map[string]string{
		"wrong-status": `int main(void) { uint64_t v; return mmsb_state_hash(0, &v) == MMSB_OK ? 0 : 1; }`,
		"silent":       `int main(void) { return mmsb_abi_version() == MMSB_ABI_VERSION ? 0 : 1; }`,
	} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "bad.c")
			code := "#include <stdint.h>\n#include \"mmsb.h\"\n" + body + "\n"
			if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(".")
			out, err := compileAndRun(t, "gcc", src, lib, []string{"-I" + abs})
			if err == nil {
				t.Fatalf("a failing C program passed:\n%s", out)
			}
		})
	}
}

// lookPath returns the path of program, or reports it missing.
func lookPath(t *testing.T, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		testutil.Missing(t, "%s: compiles the binding's C/C++ test programs (%v)", program, err)
	}
	return p
}

// python returns Debian's python3 with numpy and pytest, or reports it
// missing.
func python(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		testutil.Missing(t, "%s: Debian's python3 with python3-numpy and python3-pytest runs the writer's pytest suite", py)
	}
	if out, err := exec.Command(py, "-c", "import numpy, pytest").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy and pytest: apt-get install python3-numpy python3-pytest (%v: %s)", py, err, bytes.TrimSpace(out))
	}
	return py
}

// minWriterTests is the fewest tests of python/tests/test_writer.py that
// TestPythonWriter must see pass (28 now; one skips without seccomp):
// " passed" alone accepted a run of 1 passed and 27 skipped.
const minWriterTests = 24

var pytestPassedCount = regexp.MustCompile(`(\d+) passed`)

// runPytest runs pytest on target with the library and CLI of lib; an exit
// status other than 0 (including 5, "no tests collected"), or fewer than
// min tests passed, is an error.
func runPytest(t *testing.T, py, target, lib string, min int) (string, error) {
	t.Helper()
	cmd := exec.Command(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", target)
	cmd.Env = append(os.Environ(),
		"MMSB_LIB="+filepath.Join(lib, "libmmsb.so"),
		"MMSB_CLI="+filepath.Join(lib, "mmsb"),
		"PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("pytest %s: %w", target, err)
	}
	m := pytestPassedCount.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return string(out), fmt.Errorf("pytest %s passed nothing", target)
	}
	if n, _ := strconv.Atoi(string(m[len(m)-1][1])); n < min {
		return string(out), fmt.Errorf("pytest %s passed %d tests, want at least %d", target, n, min)
	}
	return string(out), nil
}

func TestPythonWriter(t *testing.T) {
	py := python(t)
	lib := buildLibrary(t)
	out, err := runPytest(t, py, filepath.Join(repoRoot, "python", "tests", "test_writer.py"), lib, minWriterTests)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log(strings.TrimSpace(out[strings.LastIndexByte(strings.TrimSpace(out), '\n')+1:]))
}

// TestPytestNegativeControl: a failing test, a file with no tests
// (pytest exits 5), and a file whose tests pass but are too few (or
// skip), are failures of the runner.
func TestPytestNegativeControl(t *testing.T) {
	py := python(t)
	lib := buildLibrary(t)
	for name, src := range map[string]string{
		"failing":  "def test_fails():\n    assert 1 == 2\n",
		"no-tests": "x = 1\n",
		"too-few": "import pytest\n\ndef test_passes():\n    pass\n\n" +
			"@pytest.mark.parametrize('i', range(30))\ndef test_skips(i):\n    pytest.skip('no')\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "test_control.py")
			if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := runPytest(t, py, f, lib, minWriterTests); err == nil {
				t.Fatalf("pytest on a %s file passed:\n%s", name, out)
			}
		})
	}
}

// readmeOutput returns the lines of the first fenced block after the line
// of the README readme that starts "Output of a run": what the README says
// a run of its example prints.
func readmeOutput(t *testing.T, readme string) []string {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\nOutput of a run")
	if ok {
		_, after, ok = strings.Cut(after, "\n```\n")
	}
	if ok {
		after, _, ok = strings.Cut(after, "\n```")
	}
	if !ok {
		t.Fatalf("%s has no fenced block after a line \"Output of a run\"", readme)
	}
	return strings.Split(after, "\n")
}

// checkREADMEOutput fails t unless out, what the example printed, is
// line for line the output its README shows.
func checkREADMEOutput(t *testing.T, name, readme, out string) {
	t.Helper()
	want := readmeOutput(t, readme)
	if got := strings.Split(strings.TrimRight(out, "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("%s printed\n%s\nits README (%s) says a run prints\n%s", name, out, readme, strings.Join(want, "\n"))
	}
}

// TestExamples builds and runs the Python and C++ writer examples (and the
// C++ reader beside a shared writer, when mmsb_reader.h is present), and
// checks the state hash each prints against `mmsb inspect`, and that each
// writer prints what its README says a run prints (both are deterministic
// on a new bus: the grid's steps, the counters' seeded increments).
func TestExamples(t *testing.T) {
	lib := buildLibrary(t)
	inspectHash := func(t *testing.T, dir string) string {
		t.Helper()
		out, err := exec.Command(filepath.Join(lib, "mmsb"), "inspect", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("mmsb inspect: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if h, ok := strings.CutPrefix(line, "state hash"); ok {
				return strings.TrimSpace(h)
			}
		}
		t.Fatalf("mmsb inspect printed no state hash:\n%s", out)
		return ""
	}
	printedHash := func(t *testing.T, out string) string {
		t.Helper()
		for _, line := range strings.Split(out, "\n") {
			if h, ok := strings.CutPrefix(line, "state hash"); ok {
				return strings.TrimSpace(h)
			}
		}
		t.Fatalf("the example printed no state hash:\n%s", out)
		return ""
	}
	examples := filepath.Join(repoRoot, "examples")

	t.Run("python-writer", func(t *testing.T) {
		py := python(t)
		dir := filepath.Join(t.TempDir(), "heat")
		cmd := exec.Command(py, filepath.Join(examples, "python-writer", "writer.py"), dir)
		cmd.Env = append(os.Environ(), "MMSB_LIB="+filepath.Join(lib, "libmmsb.so"), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "replay equal: True") {
			t.Errorf("the replay check did not pass:\n%s", out)
		}
		if got, want := printedHash(t, string(out)), inspectHash(t, dir); got != want {
			t.Errorf("writer.py printed state hash %s, mmsb inspect %s", got, want)
		}
		checkREADMEOutput(t, "writer.py", filepath.Join(examples, "python-writer", "README.md"), string(out))
	})

	t.Run("cpp", func(t *testing.T) {
		lookPath(t, "g++")
		bin := t.TempDir()
		build := func(name string) string {
			exe := filepath.Join(bin, name)
			args := []string{"-std=c++20", "-O2", "-Wall", "-Werror", "-I.", "-I" + filepath.Join("..", "cpp"),
				"-o", exe, filepath.Join(examples, "cpp", name+".cpp"), "-L" + lib, "-lmmsb", "-Wl,-rpath," + lib}
			if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
				t.Fatalf("g++ %s: %v\n%s", name, err, out)
			}
			return exe
		}
		writer := build("writer")
		dir := filepath.Join(t.TempDir(), "counters")
		out, err := exec.Command(writer, dir).CombinedOutput()
		if err != nil {
			t.Fatalf("writer: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "replay from it equal: yes") || !strings.Contains(string(out), "sum of counters 100000") {
			t.Errorf("unexpected writer output:\n%s", out)
		}
		if got, want := printedHash(t, string(out)), inspectHash(t, dir); got != want {
			t.Errorf("writer.cpp printed state hash %s, mmsb inspect %s", got, want)
		}
		checkREADMEOutput(t, "writer.cpp", filepath.Join(examples, "cpp", "README.md"), string(out))
		if _, err := os.Stat("mmsb_reader.h"); err != nil {
			t.Log("mmsb_reader.h absent: reader.cpp not built")
			return
		}
		reader := build("reader")
		shared := filepath.Join(t.TempDir(), "shared")
		w := exec.Command(writer, shared, "--shared")
		var wout bytes.Buffer
		w.Stdout, w.Stderr = &wout, &wout
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		rout, rerr := exec.Command(reader, shared).CombinedOutput()
		if err := w.Wait(); err != nil {
			t.Fatalf("shared writer: %v\n%s", err, wout.String())
		}
		if rerr != nil || !strings.Contains(string(rout), "attached: writer pid") || !strings.Contains(string(rout), "writer gone after LSN") {
			t.Fatalf("reader: %v\n%s", rerr, rout)
		}
	})
}
