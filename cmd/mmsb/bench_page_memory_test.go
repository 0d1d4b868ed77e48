package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/tick"
)

// TestBenchPageMemoryBeyondTheMachine: a page count whose pages could
// never be held is a usage error naming the flag, found before the bus
// is opened. --pages 99999999999999 panicked ("makeslice: cap out of
// range": the page IDs were preallocated from the flag), and so did
// --growth-pages and --growth-batch-pages; a tick --pages near MaxInt
// panicked adding --derived; and a count just past the machine's memory
// pre-faulted pages up to the whole machine before the bus refused the
// create call that crossed it. Each page's bookkeeping counts too, lazy
// or not (pageBookkeepingBytes): --lazy-page-memory bounded nothing, so
// a count of lazy pages whose bookkeeping alone is past the machine's
// memory was accepted; and with --shared, whose tmpfs space is allocated
// at creation even for lazy pages, the pages' bytes count. The machine's
// memory is set to 1 MiB here (pageMemoryLimit); the controls fit it.
func TestBenchPageMemoryBeyondTheMachine(t *testing.T) {
	saved := pageMemoryLimit
	pageMemoryLimit = func() int64 { return 1 << 20 }
	defer func() { pageMemoryLimit = saved }()
	maxInt := strconv.Itoa(int(^uint(0) >> 1))
	commit := []string{"bench", "--no-progress", "--count", "16", "--batch", "4", "--no-verify", "--page-size", "1024"}
	tickArgs := []string{"bench", "--no-progress", "--workload", "tick", "--ticks", "1", "--deltas-per-tick", "2", "--fanin", "1", "--page-size", "1024"}
	growth := []string{"bench", "--no-progress", "--workload", "growth", "--count", "16", "--growth-batches", "1", "--page-size", "1024"}
	cases := []struct {
		name      string
		bad, good []string
		flag      string
	}{
		{"pages past the machine", append(commit, "--pages", "2048"), append(commit, "--pages", "960"), "--pages 2048"},
		{"pages and bookkeeping past the machine", append(commit, "--pages", "1024"), append(commit, "--pages", "960"), "--pages 1024"},
		{"lazy pages' bookkeeping past the machine", append(commit, "--lazy-page-memory", "--pages", "20000"), append(commit, "--lazy-page-memory", "--pages", "16000"), "--pages 20000"},
		{"lazy shared pages past the machine", append(commit, "--shared", "--dir", sharedDir(t), "--lazy-page-memory", "--pages", "2048"), append(commit, "--shared", "--dir", sharedDir(t), "--lazy-page-memory", "--pages", "960"), "--pages 2048"},
		{"pages past int64 bytes", append(commit, "--pages", maxInt), append(commit, "--pages", "8", "--lazy-page-memory"), "--pages " + maxInt},
		{"lazy pages past int64 bytes", append(commit, "--lazy-page-memory", "--pages", maxInt), append(commit, "--lazy-page-memory", "--pages", "2048"), "--pages " + maxInt},
		{"tick pages and derived past the machine", append(tickArgs, "--pages", "1000", "--derived", "100"), append(tickArgs, "--pages", "900", "--derived", "24"), "--pages + --derived"},
		{"tick pages past int", append(tickArgs, "--pages", maxInt, "--derived", "2"), append(tickArgs, "--pages", "8", "--derived", "2"), "--pages " + maxInt},
		{"growth pages past the machine", append(growth, "--growth-batch-pages", "8", "--growth-pages", "8,99999999999999"), append(growth, "--growth-batch-pages", "8", "--growth-pages", "8,960"), "--growth-pages 99999999999999"},
		{"growth batch pages past int64 bytes", append(growth, "--growth-pages", "8", "--growth-batch-pages", maxInt), append(growth, "--growth-pages", "8", "--growth-batch-pages", "8"), "--growth-batch-pages " + maxInt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := runCLI(t, c.bad...).mustCode(t, exitUsage)
			if !strings.Contains(bad.stderr, c.flag) || !strings.Contains(bad.stderr, "usage") {
				t.Errorf("stderr does not name %q as a usage error:\n%s", c.flag, bad.stderr)
			}
			if bad.stdout != "" {
				t.Errorf("a usage error printed on stdout:\n%s", bad.stdout)
			}
			runCLI(t, c.good...).mustCode(t, exitOK)
		})
	}
}

// TestBenchTickFlagsNamed: each tick workload flag out of range is named
// with its value. --deltas-per-tick past what the orchestrator's intake
// queue holds (two ticks' deltas, at most 1<<22) failed with exit 1 after
// the pages were created and bound ("tick QueueSize 4194306 or
// MetricsWindow 0 over its limit"), and near MaxInt the doubled size
// wrapped negative ("negative tick option"); a too small value was one
// message listing every condition. The bound is the orchestrator's own:
// one delta more per tick is refused by tick.New too.
func TestBenchTickFlagsNamed(t *testing.T) {
	tickArgs := []string{"bench", "--no-progress", "--workload", "tick", "--pages", "8", "--derived", "2", "--ticks", "1", "--page-size", "64"}
	for _, c := range []struct {
		name string
		bad  []string
		want string
	}{
		{"deltas per tick past the queue", []string{"--deltas-per-tick", strconv.Itoa(maxDeltasPerTick + 1)}, "--deltas-per-tick must be at most 2097152"},
		{"deltas per tick at MaxInt", []string{"--deltas-per-tick", strconv.Itoa(int(^uint(0) >> 1))}, "--deltas-per-tick must be at most"},
		{"deltas per tick zero", []string{"--deltas-per-tick", "0"}, "--deltas-per-tick must be at least 1, got 0"},
		{"ticks zero", []string{"--ticks", "0"}, "--ticks must be at least 1, got 0"},
		{"fanin zero", []string{"--fanin", "0"}, "--fanin must be at least 1, got 0"},
		{"derived negative", []string{"--derived", "-1"}, "--derived must be at least 0, got -1"},
		{"page size below a float64", []string{"--page-size", "4", "--derived", "0"}, "--page-size must be at least 8, got 4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, append(append([]string{}, tickArgs...), c.bad...)...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, r.stderr)
			}
		})
	}
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if orch, err := tick.New(bus, &tick.Options{QueueSize: 2 * (maxDeltasPerTick + 1)}); err == nil {
		orch.Close()
		t.Errorf("tick.New takes a queue for %d deltas per tick: maxDeltasPerTick is below the orchestrator's bound", maxDeltasPerTick+1)
	}
	// A --ticks too large to preallocate a latency for each (it
	// panicked: makeslice) reaches the tick loop, which the hook stops
	// by cancelling the run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reached := false
	saved := tickLoopHook
	tickLoopHook = func() { reached = true; cancel() }
	defer func() { tickLoopHook = saved }()
	var out, errb bytes.Buffer
	args := append(append([]string{}, tickArgs...), "--deltas-per-tick", "2", "--ticks", strconv.Itoa(math.MaxInt>>1))
	if code := run(ctx, args, &out, &errb); code != exitFailure || !reached || !strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("exit status %d (want 1, cancelled in the tick loop), loop reached %v\nstdout:\n%s\nstderr:\n%s", code, reached, out.String(), errb.String())
	}
}

// sharedDir returns a fresh path for an on-disk bus in shared mode,
// skipping the test where shared memory is unavailable.
func sharedDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(mmsb.DefaultSharedDir); err != nil {
		testutil.Missing(t, "shared mode needs %s: %v", mmsb.DefaultSharedDir, err)
	}
	return filepath.Join(t.TempDir(), "bus")
}
