package page

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// vmRSS returns the process's resident set size in bytes.
func vmRSS(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		testutil.Missing(t, "no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("VmRSS not found in /proc/self/status")
	return 0
}

// TestRSS1MPages is the seed's memory target: one million written 1 KiB
// pages fit in 1 GiB of RSS, so all per-page overhead must fit in the
// ~47 MiB left over by the 976.6 MiB of data. It measures in a fresh child
// process (the test binary re-run for this test alone), so that memory left
// resident by earlier tests of the package cannot blur the figure, and
// asserts the RSS the store adds; the process total is logged.
func TestRSS1MPages(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~1 GiB; skipped in -short")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory makes RSS meaningless")
	}
	if os.Getenv("MMSB_RSS_CHILD") == "" {
		// Skip here, not in the child, when there is nothing to measure
		// with: a child that skips makes the parent fail (see childPassed).
		vmRSS(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestRSS1MPages$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "MMSB_RSS_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatalf("RSS measurement failed in the child process: %v", err)
		}
		if err := childPassed(out, "TestRSS1MPages"); err != nil {
			t.Fatalf("RSS measurement did not run in the child process: %v", err)
		}
		return
	}
	const (
		n    = 1_000_000
		size = 1024
	)
	// Return heap left over by earlier tests to the OS so the figure is
	// this store's footprint plus the test binary, not test debris.
	debug.FreeOSMemory()
	base0 := vmRSS(t)
	s := New()
	defer s.Close()
	for i := range n {
		id := base.PageID(i + 1)
		sl, err := s.Create(id, size, base.LocationCPU)
		if err != nil {
			t.Fatalf("Create(%d): %v", id, err)
		}
		b := s.Bytes(sl)
		for j := range b {
			b[j] = byte(j) ^ byte(i)
		}
		s.SetEpoch(sl, 1)
		s.SetLastLSN(sl, base.LSN(i+1))
	}
	// Spot-check that pages kept their own bytes.
	for _, i := range []int{0, 1, n / 2, n - 1} {
		sl, ok := s.Lookup(base.PageID(i + 1))
		if !ok {
			t.Fatalf("page %d missing", i+1)
		}
		if b := s.Bytes(sl); b[7] != byte(7)^byte(i) {
			t.Fatalf("page %d byte 7 = %d", i+1, b[7])
		}
	}
	rss := vmRSS(t)
	st := s.Stats()
	t.Logf("1M x 1 KiB pages: RSS %.1f MiB (before %.1f MiB), data %.1f MiB, arena %.1f MiB",
		float64(rss)/(1<<20), float64(base0)/(1<<20), float64(st.LogicalBytes)/(1<<20), float64(st.ArenaBytes)/(1<<20))
	t.Logf("per-page overhead: metadata %.1f B/page (Stats.MetaBytes), RSS above data %.1f B/page",
		float64(st.MetaBytes)/n, float64(rss-st.LogicalBytes)/n)
	if grown := rss - base0; grown > 1<<30 {
		t.Fatalf("RSS grew by %d bytes (> 1 GiB) for 1M 1 KiB pages", grown)
	}
}

// childPassed checks the -test.v output of a child test binary that was
// asked to run test: it must report that test as passed at top level. An
// exit status of 0 alone proves nothing: a child that skipped the test, or
// whose -test.run matched nothing, exits 0 too.
func childPassed(out []byte, test string) error {
	pass := "--- PASS: " + test + " "
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, pass):
			return nil
		case strings.HasPrefix(line, "--- SKIP: "+test+" "):
			return fmt.Errorf("the child skipped %s", test)
		}
	}
	if strings.Contains(string(out), "no tests to run") {
		return fmt.Errorf("the child ran no test: -test.run did not match %s", test)
	}
	return fmt.Errorf("no %q line in the child's output", strings.TrimSpace(pass))
}

// TestChildPassed is the negative control for TestRSS1MPages's parent: a
// child that skipped, ran no test, or ran another one must not count as a
// measurement. (The parent once checked only the exit status, which is 0 in
// all of these cases.)
func TestChildPassed(t *testing.T) {
	cases := []struct {
		name, out string
		ok        bool
	}{
		{"passed", "=== RUN   TestRSS1MPages\n    rss_test.go:1: ...\n--- PASS: TestRSS1MPages (1.20s)\nPASS\n", true},
		{"skipped", "=== RUN   TestRSS1MPages\n    rss_test.go:1: no /proc\n--- SKIP: TestRSS1MPages (0.00s)\nPASS\n", false},
		{"no test ran", "testing: warning: no tests to run\nPASS\n", false},
		{"empty output", "", false},
		{"another test passed", "=== RUN   TestRSS1MPagesX\n--- PASS: TestRSS1MPagesX (0.01s)\nPASS\n", false},
		{"a subtest of that name passed", "    --- PASS: TestOther/TestRSS1MPages (0.01s)\n--- PASS: TestOther (0.01s)\nPASS\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := childPassed([]byte(c.out), "TestRSS1MPages")
			if (err == nil) != c.ok {
				t.Fatalf("childPassed = %v, want ok=%v", err, c.ok)
			}
		})
	}
}
