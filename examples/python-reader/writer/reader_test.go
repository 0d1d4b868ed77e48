package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
	if err := checkReaderValues(string(out), 4); err != nil {
		t.Fatalf("reader.py --count 3: %v; output:\n%s", err, out)
	}
}

// readerLineRE reads one of reader.py's commit lines: the LSN wait
// returned, the means of the pages, and the first three samples of the
// first page in a snapshot at the LSN it names.
var readerLineRE = regexp.MustCompile(`^lsn +(\d+)  means (.+)  page 1\[:3\] at lsn (\d+) = \[(.+)\]$`)

// checkReaderValues checks the numbers reader.py printed against what the
// writer (run, on a new bus of n pages) committed: counting the lines was
// all the tests did, and a reader that printed any numbers passed. On a
// new bus, LSNs 1..n create the pages and the commit of tick k (page i
// holds i + (i+1)·sin(k/10 + j/20) in sample j) takes LSNs n(k+1)+1 to
// n(k+2), so a snapshot at LSN L holds tick L/n-2. The snapshot's samples
// must be that tick's, exactly (to the 3 decimals printed); each mean, read
// page by page before the snapshot, must be that of a tick from the one
// wait returned to the snapshot's.
func checkReaderValues(out string, n int) error {
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "lsn ") {
			continue
		}
		seen++
		m := readerLineRE.FindStringSubmatch(line)
		if m == nil {
			return fmt.Errorf("line %q is not in reader.py's format", line)
		}
		waited, _ := strconv.Atoi(m[1])
		snap, _ := strconv.Atoi(m[3])
		if snap%n != 0 || snap < 2*n || waited > snap {
			return fmt.Errorf("line %q: snapshot LSN %d (after wait returned %d) does not end a commit of the %d signals", line, snap, waited, n)
		}
		tick := snap/n - 2
		samples := strings.Fields(m[4])
		if len(samples) != 3 {
			return fmt.Errorf("line %q: %d samples of page 1, want 3", line, len(samples))
		}
		for j, s := range samples {
			got, err := strconv.ParseFloat(s, 64)
			want := math.Sin(float64(tick)/10 + float64(j)/20)
			if err != nil || math.Abs(got-want) > 1e-3 {
				return fmt.Errorf("line %q: page 1 sample %d is %s, want %.3f (tick %d, the commit that ends at LSN %d)", line, j, s, want, tick, snap)
			}
		}
		means := strings.Fields(m[2])
		if len(means) != n {
			return fmt.Errorf("line %q: %d means, want %d", line, len(means), n)
		}
		for i, s := range means {
			got, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("line %q: mean %d %q is no number", line, i, s)
			}
			ok := false
			for k := max(waited/n-3, 0); k <= tick && !ok; k++ {
				ok = math.Abs(got-signalMean(i, k)) <= 1e-3
			}
			if !ok {
				return fmt.Errorf("line %q: page %d's mean %s is no tick's from %d to %d (tick %d: %.3f)", line, i+1, s, max(waited/n-3, 0), tick, tick, signalMean(i, tick))
			}
		}
	}
	if seen == 0 {
		return errors.New("no commit lines")
	}
	return nil
}

// signalMean is the mean of page i+1's samples at the writer's tick k.
func signalMean(i, k int) float64 {
	sum := 0.0
	for j := range 128 {
		sum += float64(i) + float64(i+1)*math.Sin(float64(k)/10+float64(j)/20)
	}
	return sum / 128
}

// TestReaderValueCheckCatchesWrongNumbers is the negative control of
// checkReaderValues: a line the writer could have produced passes, and
// each number changed (a sample, a mean, a snapshot LSN of another tick,
// another page's samples) fails.
func TestReaderValueCheckCatchesWrongNumbers(t *testing.T) {
	line := func(waited int, means string, snap int, samples string) string {
		return fmt.Sprintf("reader: generation 1, writer pid 2, pages [1, 2, 3, 4]\nlsn %6d  means %s  page 1[:3] at lsn %d = [%s]\n", waited, means, snap, samples)
	}
	// Tick 5 ends at LSN 28: samples sin(0.5), sin(0.55), sin(0.6).
	good := line(28, "+0.009 +1.019 +2.028 +3.037", 28, "0.479 0.523 0.565")
	if err := checkReaderValues(good, 4); err != nil {
		t.Fatalf("a right line refused: %v", err)
	}
	for name, out := range map[string]string{
		"sample":          line(28, "+0.009 +1.019 +2.028 +3.037", 28, "0.479 0.53  0.565"),
		"mean":            line(28, "+0.009 +1.019 +2.128 +3.037", 28, "0.479 0.523 0.565"),
		"other tick":      line(32, "+0.009 +1.019 +2.028 +3.037", 32, "0.479 0.523 0.565"),
		"other page":      line(28, "+0.009 +1.019 +2.028 +3.037", 28, "1.958 2.046 2.13"),
		"mid-commit LSN":  line(27, "+0.009 +1.019 +2.028 +3.037", 27, "0.479 0.523 0.565"),
		"missing mean":    line(28, "+0.009 +1.019 +2.028", 28, "0.479 0.523 0.565"),
		"no commit lines": "reader: generation 1, writer pid 2, pages [1, 2, 3, 4]\n",
	} {
		if err := checkReaderValues(out, 4); err == nil {
			t.Errorf("%s: wrong numbers accepted:\n%s", name, out)
		}
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
	if err := checkReaderValues(string(out), 4); err != nil {
		t.Fatalf("reader.py --count 1 beside a writer committing every 5.6 s: %v; output:\n%s", err, out)
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

// TestReaderBadArgumentsExitOne: reader.py refuses an argument it cannot
// use with argparse's usage and a line naming it, and exit status 1, as
// the writer beside it and the other examples do; -h exits 0. It exited
// with argparse's status 2, which the examples keep for a failed check.
// No case needs a writer.
func TestReaderBadArgumentsExitOne(t *testing.T) {
	py := python(t)
	for _, tc := range []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"--count", "-1"}, 1, "--count -1: want 0 or more"},
		{[]string{"--count", "x"}, 1, "argument --count: invalid int value: 'x'"},
		{[]string{"--bogus"}, 1, "unrecognized arguments: --bogus"},
		{[]string{"dir", "extra"}, 1, "unrecognized arguments: extra"},
		{[]string{"-h"}, 0, "--count COUNT"},
	} {
		code, out := exitStatus(t, reader(t, py, tc.args[0], tc.args[1:]...))
		if code != tc.code || !strings.Contains(string(out), tc.mention) {
			t.Errorf("reader.py %s: exit status %d, output:\n%s\nwant status %d mentioning %q", strings.Join(tc.args, " "), code, out, tc.code, tc.mention)
		}
	}
}
