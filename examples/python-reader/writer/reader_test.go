package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// These tests run the example as its README does: this package's writer
// (in-process, run) and reader.py in a Python process beside it. They need
// Debian's python3 with numpy and /dev/shm, and are skipped without them
// (failed under MMSB_REQUIRE_EXTERNAL=1, as in CI).

// python returns /usr/bin/python3 when it has numpy, or reports it missing.
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy is needed to run reader.py: %v %s", py, err, out)
	}
	if _, err := os.Stat("/dev/shm"); err != nil {
		testutil.Missing(t, "the shared region needs /dev/shm: %v", err)
	}
	return py
}

// startWriter runs the writer on a new bus in a temporary directory until
// the test ends, and returns the directory once its pages exist.
func startWriter(t *testing.T, every time.Duration) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bus")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, io.Discard, dir, 4, every) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("writer: %v", err)
		}
	})
	// The writer commits its first signals right after creating the
	// pages; the log file appears with the bus.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the writer stopped before the reader started: %v", err)
		default:
		}
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			time.Sleep(100 * time.Millisecond) // pages created and first commit made
			return dir
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer created no bus in 10 s")
		}
	}
}

// reader returns the command that runs reader.py on dir, killed if it
// still runs after a minute (a reader waiting for commits that never come
// must fail the test, not hang it).
func reader(t *testing.T, py, dir string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, py, append([]string{filepath.Join("..", "reader.py"), dir}, args...)...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	return cmd
}

// lsnLines counts the reader's lines for commits it woke up for.
func lsnLines(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "lsn ") && strings.Contains(line, "means") {
			n++
		}
	}
	return n
}

// TestReaderFollowsWriter: reader.py --count 3 attaches, prints one line
// per commit it woke up for, three of them, and exits 0.
func TestReaderFollowsWriter(t *testing.T) {
	py := python(t)
	t.Parallel()
	dir := startWriter(t, 20*time.Millisecond)
	out, err := reader(t, py, dir, "--count", "3").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reader: generation") || lsnLines(string(out)) != 3 {
		t.Fatalf("reader.py --count 3: %v, want 3 lines of commits; output:\n%s", err, out)
	}
}

// TestReaderWaitsForSlowWriter: a writer committing less often than every
// 5 s (-every accepts any positive duration) is followed; the reader used
// to give up after 5 s with a Timeout traceback. The reader starts just
// after the writer's first commit and waits about 5.5 s for the next.
func TestReaderWaitsForSlowWriter(t *testing.T) {
	py := python(t)
	t.Parallel()
	dir := startWriter(t, 5600*time.Millisecond)
	out, err := reader(t, py, dir, "--count", "1").CombinedOutput()
	if err != nil || strings.Contains(string(out), "Traceback") || lsnLines(string(out)) != 1 {
		t.Fatalf("reader.py --count 1 beside a writer committing every 5.6 s: %v, want a line for the next commit; output:\n%s", err, out)
	}
}

// TestReaderInterrupt: Ctrl-C (SIGINT) stops a reader following the
// writer with a one-line message and exit status 130, not a
// KeyboardInterrupt traceback.
func TestReaderInterrupt(t *testing.T) {
	py := python(t)
	t.Parallel()
	dir := startWriter(t, 20*time.Millisecond)
	cmd := reader(t, py, dir, "--count", "0")
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); lsnLines(out.String()) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the reader printed no commits in 10 s:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || strings.Contains(out.String(), "Traceback") ||
		!strings.Contains(out.String(), "reader: interrupted") {
		t.Fatalf("after SIGINT: %v, want exit status 130 and \"reader: interrupted\"; output:\n%s", err, out.String())
	}
}
