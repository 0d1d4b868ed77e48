package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// Minimum numbers of test cases each child must report as passed: a
// child that collects or runs fewer (renamed files, a bad selection, an
// empty run) fails the test instead of passing it.
const (
	minPytestPassed = 35
	cCases          = 9
)

// pytestFileFloors are the fewest tests of each file of python/tests that
// TestPythonReader's run must pass (a few below the counts now, for the
// tests that skip where seccomp is missing or the run is not root). The
// total alone could not fail: with 120 tests, a run that lost all 51 of
// test_reader.py (renamed, or an import that skips it) still passed 35.
var pytestFileFloors = map[string]int{
	"test_reader.py":           45,
	"test_reader_damage.py":    6,
	"test_reader_inputs.py":    30,
	"test_reader_truncated.py": 20,
	"test_writer.py":           24,
	"test_docs_examples.py":    2,
	"test_example_reader.py":   3,
}

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// python returns Debian's python3 (or $MMSB_PYTHON) when it imports numpy
// and pytest; otherwise it skips or fails the test.
func python(t *testing.T) string {
	t.Helper()
	py := os.Getenv("MMSB_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import numpy, pytest").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy and pytest (Debian: python3-numpy python3-pytest) runs python/tests: %v: %s",
			py, err, strings.TrimSpace(string(out)))
	}
	return py
}

// gcc returns the path of gcc, or skips or fails the test.
func gcc(t *testing.T) string {
	t.Helper()
	return testutil.LookPath(t, "gcc") // builds the C reader's tests (bindings/c/test)
}

// buildWriter builds the test writer internal/cmd/shmwriter.
func buildWriter(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("go not found to build the test writer: %v", err)
	}
	out := filepath.Join(t.TempDir(), "shmwriter")
	cmd := exec.Command(goBin, "build", "-o", out, "./internal/cmd/shmwriter")
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build shmwriter: %v\n%s", err, b)
	}
	return out
}

// shmDir returns a fresh directory on tmpfs ($MMSB_TEST_SHM or /dev/shm)
// for the bus and its shared region.
func shmDir(t *testing.T) string {
	t.Helper()
	base := "" // the default temporary directory when there is no /dev/shm
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	if d := os.Getenv("MMSB_TEST_SHM"); d != "" {
		base = d
	}
	d, err := os.MkdirTemp(base, "mmsb-bindings-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

var pytestPassed = regexp.MustCompile(`(\d+) passed`)

// errChild is wrapped by every verdict that a child's run failed.
var errChild = errors.New("bindings: child test run failed")

// pytestVerdict judges a pytest run from its exit status and output: it
// must exit 0 (5 is "no tests collected", 1 "some failed") and report at
// least min passed tests and none failed.
func pytestVerdict(exit int, out string, min int) error {
	if exit != 0 {
		return fmt.Errorf("%w: pytest exit status %d", errChild, exit)
	}
	m := pytestPassed.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return fmt.Errorf("%w: pytest reported no passed tests", errChild)
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	if n < min {
		return fmt.Errorf("%w: pytest passed %d tests, want at least %d", errChild, n, min)
	}
	if strings.Contains(out, " failed") || strings.Contains(out, " error") {
		return fmt.Errorf("%w: pytest reported failures", errChild)
	}
	return nil
}

var pytestPassedLine = regexp.MustCompile(`(?m)^PASSED (\S+?)::`)

// pytestFilesVerdict judges the per-file counts of a pytest run made with
// -rA (one "PASSED path::test" line per passed test): each file of floors
// must have passed at least its floor.
func pytestFilesVerdict(out string, floors map[string]int) error {
	passed := map[string]int{}
	for _, m := range pytestPassedLine.FindAllStringSubmatch(out, -1) {
		passed[filepath.Base(m[1])]++
	}
	var short []string
	for _, f := range slices.Sorted(maps.Keys(floors)) {
		if passed[f] < floors[f] {
			short = append(short, fmt.Sprintf("%s passed %d, want at least %d", f, passed[f], floors[f]))
		}
	}
	if len(short) > 0 {
		return fmt.Errorf("%w: %s", errChild, strings.Join(short, "; "))
	}
	return nil
}

// cVerdict judges the C test program: exit 0 and "ALL PASS <cases>".
func cVerdict(exit int, out string, cases int) error {
	if exit != 0 {
		return fmt.Errorf("%w: C tests exit status %d", errChild, exit)
	}
	if !strings.Contains(out, fmt.Sprintf("ALL PASS %d\n", cases)) {
		return fmt.Errorf("%w: C tests did not report ALL PASS %d", errChild, cases)
	}
	return nil
}

// run runs cmd and returns its exit status and combined output.
func run(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// A writer process the child started may hold the output pipe open
	// after the child is killed: Wait returns all the same.
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	// A child blocked for good (a reader waiting for a commit that never
	// comes) is killed after childGuard, and the test fails with what it
	// printed: it held the package until go test's -timeout.
	guard := time.AfterFunc(childGuard, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	if !guard.Stop() {
		t.Fatalf("%v still running after %v (a guard against a hang, not a bound): killed; its output:\n%s", cmd.Args, childGuard, buf.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, buf.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), buf.String()
	}
	t.Fatalf("%v: %v", cmd.Args, err)
	return -1, ""
}

// childGuard bounds a test program or test suite run by run: a guard
// against a hang, not a bound (the Python suite takes minutes under load).
const childGuard = 10 * time.Minute

// runPytest runs pytest on dir (absolute or relative to the repository root) with the
// test writer and a private tmpfs directory. --basetemp: pytest's default,
// numbered directories under /tmp/pytest-of-USER, is pruned by every run
// to its newest few, so pytest runs beside this one (another package's
// test, another checkout's) removed it mid-run ("could not create
// numbered dir with prefix ... after 10 tries").
func runPytest(t *testing.T, py, writer, dir string, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", filepath.Join(t.TempDir(), "pytest"), dir}, extra...)
	cmd := exec.Command(py, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "MMSB_SHMWRITER="+writer, "MMSB_TEST_SHM="+shmDir(t), "PYTHONDONTWRITEBYTECODE=1")
	return run(t, cmd)
}

// TestPythonReader runs python/tests (the pure-Python reader against a
// live Go writer).
func TestPythonReader(t *testing.T) {
	py := python(t)
	writer := buildWriter(t)
	exit, out := runPytest(t, py, writer, "python/tests", "-rA")
	t.Log(out)
	if err := pytestVerdict(exit, out, minPytestPassed); err != nil {
		t.Fatal(err)
	}
	if err := pytestFilesVerdict(out, pytestFileFloors); err != nil {
		t.Fatal(err)
	}
}

// TestPythonHarnessCatchesFailures is the negative control of
// TestPythonReader's verdict: a run that collects no test (exit 5), a
// failing test and a run of too few tests are all failures.
func TestPythonHarnessCatchesFailures(t *testing.T) {
	py := python(t)
	for name, src := range map[string]string{
		"empty":   "",
		"failing": "def test_fails():\n    assert 1 == 2\n",
		"passing": "def test_passes():\n    assert True\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if src != "" {
				if err := os.WriteFile(filepath.Join(dir, "test_control.py"), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			exit, out := runPytest(t, py, "/nonexistent", dir)
			err := pytestVerdict(exit, out, minPytestPassed)
			if !errors.Is(err, errChild) {
				t.Fatalf("verdict on %s run (exit %d) = %v, want a failure\n%s", name, exit, err, out)
			}
			if name == "passing" && exit != 0 {
				t.Fatalf("control run failed itself (exit %d):\n%s", exit, out)
			}
			if name == "empty" && exit != 5 {
				t.Fatalf("pytest with no tests exited %d, want 5", exit)
			}
		})
	}
	if err := pytestVerdict(0, "35 passed in 3.2s", minPytestPassed); err != nil {
		t.Fatalf("a good run judged failed: %v", err)
	}
	// Per file: a run missing one file, or with too few of one, fails.
	full := func(skip string, less int) string {
		var b strings.Builder
		for f, n := range pytestFileFloors {
			if f == skip {
				n -= less
			}
			for i := range n {
				fmt.Fprintf(&b, "PASSED python/tests/%s::test_%d\n", f, i)
			}
		}
		return b.String()
	}
	if err := pytestFilesVerdict(full("", 0), pytestFileFloors); err != nil {
		t.Fatalf("a run with every file judged failed: %v", err)
	}
	for _, tc := range []struct {
		file string
		less int
	}{
		{"test_reader.py", pytestFileFloors["test_reader.py"]},
		{"test_reader_inputs.py", 1},
	} {
		err := pytestFilesVerdict(full(tc.file, tc.less), pytestFileFloors)
		if !errors.Is(err, errChild) || !strings.Contains(err.Error(), tc.file) {
			t.Errorf("a run with %d fewer tests of %s judged %v, want a failure naming it", tc.less, tc.file, err)
		}
	}
}

// cFlags are the flags the C reader's tests are built with.
var cFlags = []string{"-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-O2", "-g",
	"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"}

// buildC compiles src with gcc and cFlags into dir.
func buildC(t *testing.T, cc, src, dir string) string {
	t.Helper()
	out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(src), ".c"))
	args := append(append([]string{}, cFlags...), src, "-o", out)
	cmd := exec.Command(cc, args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, b)
	}
	return out
}

// TestCReader builds bindings/c/test/reader_test.c with -Wall -Werror and
// AddressSanitizer + UBSan and runs it against a live Go writer.
func TestCReader(t *testing.T) {
	cc := gcc(t)
	writer := buildWriter(t)
	bin := buildC(t, cc, filepath.Join(repoRoot(t), "bindings", "c", "test", "reader_test.c"), t.TempDir())
	exit, out := run(t, exec.Command(bin, writer, shmDir(t), "2"))
	t.Log(out)
	if err := cVerdict(exit, out, cCases); err != nil {
		t.Fatal(err)
	}
}

// TestCHeaderCompilesAsCpp: the header also compiles as C++ (for the C++
// bindings that include it) with -Wall -Werror.
func TestCHeaderCompilesAsCpp(t *testing.T) {
	cxx := testutil.LookPath(t, "g++") // checks that mmsb_reader.h compiles as C++
	src := filepath.Join(t.TempDir(), "inc.cpp")
	hdr := filepath.Join(repoRoot(t), "bindings", "c", "mmsb_reader.h")
	if err := os.WriteFile(src, []byte("#include \""+hdr+"\"\nint main() { mmsb_reader *r = nullptr; mmsb_reader_close(&r); return 0; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", src).CombinedOutput(); err != nil {
		t.Fatalf("g++: %v\n%s", err, b)
	}
}

// TestCHarnessCatchesFailures is the negative control of TestCReader's
// verdict: a program that runs no case, one that fails, and one that
// reports too few cases are failures.
func TestCHarnessCatchesFailures(t *testing.T) {
	cc := gcc(t)
	dir := t.TempDir()
	for name, body := range map[string]string{
		"silent":   `int main(void) { return 0; }`,
		"failing":  `int main(void) { printf("ALL PASS 9\n"); return 1; }`,
		"too_few":  `int main(void) { printf("ALL PASS 2\n"); return 0; }`,
		"complete": `int main(void) { printf("ALL PASS 9\n"); return 0; }`,
	} {
		src := filepath.Join(dir, name+".c")
		if err := os.WriteFile(src, []byte("#include <stdio.h>\n"+body+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		exit, out := run(t, exec.Command(buildC(t, cc, src, dir)))
		err := cVerdict(exit, out, cCases)
		if name == "complete" {
			if err != nil {
				t.Fatalf("control: a complete run judged failed: %v", err)
			}
			continue
		}
		if !errors.Is(err, errChild) {
			t.Errorf("%s: verdict %v, want a failure", name, err)
		}
	}
}
