// Package pythonwriter_test runs examples/python-writer/writer.py on
// buses the README's plain run does not cover (bindings/c's TestExamples
// runs that one and compares its state hash with mmsb inspect). It builds
// libmmsb.so with the documented command and needs gcc and Debian's
// python3 with numpy; without them it is skipped.
package pythonwriter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// built is libmmsb.so, built once for the package's tests (each built its
// own: a c-shared link of several seconds per test), in a directory
// TestMain removes.
var built struct {
	sync.Once
	dir, lib string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// library returns Debian's python3 and libmmsb.so, built on the first call,
// or reports what is missing (testutil.Missing: a skip, or a failure in
// CI).
func library(t *testing.T) (py, lib string) {
	t.Helper()
	py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy is needed to run writer.py: %v %s", py, err, out)
	}
	testutil.LookPath(t, "gcc") // to build libmmsb.so
	goTool := testutil.LookPath(t, "go")
	built.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "pythonwriter-lib-"); built.err != nil {
			return
		}
		built.lib = filepath.Join(built.dir, "libmmsb.so")
		cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", built.lib, "./bindings/c")
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build -buildmode=c-shared: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return py, built.lib
}

// TestWriterAfterInterruptedFirstRun: a first run stopped between creating
// the 64 row pages and its first commit leaves a bus whose grid is all
// zeros. Run again, writer.py must start the simulation the first run never
// stored (the hot spot) and end with the grid an uninterrupted first run
// stores: the same centre cell and state hash. It used to fail with
// UnboundLocalError on the batch it never committed, and then to commit
// nothing, on that run and every later one (a grid at rest: "0 writes in
// the last step", centre cell 0).
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
	resumed := runWriter(t, py, lib, dir)
	plain := runWriter(t, py, lib, filepath.Join(t.TempDir(), "plain"))
	if resumed.writes == 0 || resumed.centre != plain.centre || resumed.hash != plain.hash {
		t.Fatalf("writer.py after a first run stopped before its first commit: %d writes in the last step, centre cell %s, state hash %s; "+
			"want what a first run on a new bus ends with: %d writes, centre cell %s, state hash %s",
			resumed.writes, resumed.centre, resumed.hash, plain.writes, plain.centre, plain.hash)
	}
}

// TestWriterInterrupted: Ctrl-C (SIGINT) during the steps stops writer.py
// with one line, "writer.py: interrupted", and exit status 130, its bus
// closed: the next run opens it, continues and replays equal. It printed a
// KeyboardInterrupt traceback, and, started with SIGINT ignored (a
// script's background job; the wrapper here starts it so), ran on to the
// end. The wrapper also makes the steps endless, so that the signal always
// lands in them.
func TestWriterInterrupted(t *testing.T) {
	py, lib := library(t)
	dir := filepath.Join(t.TempDir(), "heat")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const wrapper = "import signal, sys\n" +
		"signal.signal(signal.SIGINT, signal.SIG_IGN)\n" +
		"import writer\n" +
		"writer.STEPS = 1 << 62\n" +
		"sys.argv = ['writer.py', sys.argv[1]]\n" +
		"sys.exit(writer.main())\n"
	cmd := exec.CommandContext(ctx, py, "-c", wrapper, dir)
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Steps are being committed once the log holds 256 KiB (the pages'
	// creation takes a few KiB).
	for deadline := time.Now().Add(30 * time.Second); logBytes(dir) < 256<<10; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("writer.py ended before it was interrupted: %v; output:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("writer.py committed no steps in 30 s; output:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("writer.py still ran 20 s after SIGINT; output:\n%s", out.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || strings.TrimSpace(out.String()) != "writer.py: interrupted" {
		t.Fatalf("writer.py after SIGINT: %v, want exit status 130 and the one line \"writer.py: interrupted\"; output:\n%s", err, out.String())
	}
	if r := runWriter(t, py, lib, dir); r.writes == 0 {
		t.Fatalf("the run after the interrupted one committed nothing in its last step")
	}
}

// logBytes is the size of the log segments in the bus directory dir.
func logBytes(dir string) int64 {
	entries, _ := os.ReadDir(filepath.Join(dir, "wal"))
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".log") {
			n += info.Size()
		}
	}
	return n
}

// writerReport is what writer.py prints at the end of a run.
type writerReport struct {
	writes       int
	centre, hash string
}

// runWriter runs writer.py on dir, requires exit status 0 and a replay
// equal to the live state, and returns its report.
func runWriter(t *testing.T, py, lib, dir string) writerReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "writer.py", dir)
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	var r writerReport
	var lsn uint64
	var equal string
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err != nil || len(lines) != 3 {
		t.Fatalf("writer.py %s: %v, want exit status 0 and a report of three lines; output:\n%s", dir, err, out)
	}
	_, err1 := fmt.Sscanf(lines[0], "last LSN %d, %d writes in the last step, replay equal: %s", &lsn, &r.writes, &equal)
	_, err2 := fmt.Sscanf(lines[1], "state hash %s", &r.hash)
	_, err3 := fmt.Sscanf(lines[2], "centre cell %s", &r.centre)
	if err := errors.Join(err1, err2, err3); err != nil || equal != "True" {
		t.Fatalf("writer.py %s: report not read (%v) or replay not equal; output:\n%s", dir, err, out)
	}
	return r
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

// TestBenchRefusesBadArgumentsAndOldBuses: bench.py refuses a count below
// 1 with a line naming the flag and exit status 1 (--batches 0 and
// --single 0 ended in a ZeroDivisionError traceback, negative counts timed
// nothing), and refuses a --dir holding a bus that is not new, leaving it
// as it was: it wrote its random bytes to pages 1..65536 of whatever bus
// it was given (python-writer's heat grid here: its rows overwritten). A
// new directory (the control) is benchmarked.
func TestBenchRefusesBadArgumentsAndOldBuses(t *testing.T) {
	py, lib := library(t)
	small := []string{"--batch", "10", "--batches", "2", "--rounds", "1", "--single", "2"}
	bench := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, append([]string{"bench.py"}, args...)...)
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
	for _, fv := range [][2]string{{"--batch", "0"}, {"--batches", "0"}, {"--rounds", "-1"}, {"--single", "0"}} {
		flag, v := fv[0], fv[1]
		args := append(small[:len(small):len(small)], flag, v)
		if out, code := bench(args...); code != 1 || !strings.Contains(out, flag+" "+v+": want 1 or more") || strings.Contains(out, "Traceback") {
			t.Errorf("bench.py %s %s: exit status %d, output:\n%s\nwant status 1 naming %s", flag, v, code, out, flag)
		}
	}

	old := filepath.Join(t.TempDir(), "heat")
	if r := runWriter(t, py, lib, old); r.writes == 0 {
		t.Fatal("writer.py wrote nothing")
	}
	hash := func() uint64 {
		t.Helper()
		bus, err := mmsb.Open(old, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
		h, err := bus.StateHash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := hash()
	out, code := bench(append(small, "--dir", old)...)
	if after := hash(); code != 1 || !strings.Contains(out, "is not new") || after != before {
		t.Errorf("bench.py --dir on writer.py's bus: exit status %d, state hash %016x before, %016x after; output:\n%s\nwant status 1, \"is not new\" and the bus untouched",
			code, before, after, out)
	}
	if out, code := bench(append(small, "--dir", filepath.Join(t.TempDir(), "new"))...); code != 0 || !strings.Contains(out, "py_commit_array batch=10") {
		t.Errorf("bench.py --dir on a new directory: exit status %d, output:\n%s", code, out)
	}
}

// TestBenchInterrupted: Ctrl-C (SIGINT) during bench.py --dir disk stops it
// with the one line "bench.py: interrupted" and status 130, and its
// temporary bus directory is gone. Before, it printed a KeyboardInterrupt
// traceback and died of the signal. The signal is sent once the bus's log
// holds 256 KiB (its 65,536 pages being created or written), so the test
// waits on the program, not a clock.
func TestBenchInterrupted(t *testing.T) {
	py, lib := library(t)
	tmp := t.TempDir() // bench.py's temporary directories go here
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "bench.py", "--dir", "disk", "--batches", "1000000")
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1", "TMPDIR="+tmp)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	busLog := func() int64 {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "*", "bus"))
		var n int64
		for _, d := range dirs {
			n += logBytes(d)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); busLog() < 256<<10; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("bench.py ended before it was interrupted: %v; output:\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("bench.py committed nothing in 30 s; output:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("bench.py still ran 20 s after SIGINT; output:\n%s", out.String())
	}
	var exit *exec.ExitError
	text := out.String()
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.HasSuffix(strings.TrimSpace(text), "bench.py: interrupted") || strings.Contains(text, "Traceback") {
		t.Fatalf("bench.py after SIGINT: %v, want exit status 130 ending in \"bench.py: interrupted\", no traceback; output:\n%s", err, text)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("bench.py --dir disk left %d entries in its temporary directory's parent (%s)", len(left), left[0].Name())
	}
}
