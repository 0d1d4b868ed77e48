package main

import (
	"math"
	"runtime/metrics"
	"slices"
	"syscall"
	"testing"
)

func TestDiffHost(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0, 1e-6, 1e-3, 16e-3, 32e-3, math.Inf(1)}
	hist := func(counts ...uint64) *metrics.Float64Histogram {
		return &metrics.Float64Histogram{Counts: counts, Buckets: buckets}
	}
	for _, tc := range []struct {
		name          string
		before, after *metrics.Float64Histogram
		wantMax       int64
		wantOver      uint64
	}{
		{"nothing grew", hist(5, 5, 5, 5, 5, 5), hist(5, 5, 5, 5, 5, 5), 0, 0},
		{"short waits only", hist(0, 0, 0, 0, 0, 0), hist(0, 9, 3, 0, 0, 0), 1000, 0},
		{"waits over 16 ms", hist(0, 1, 0, 0, 2, 0), hist(0, 4, 0, 1, 5, 1), 32e6, 4},
		{"one stall, older stalls before the window", hist(0, 0, 0, 0, 7, 3), hist(0, 0, 0, 1, 8, 3), 16e6, 1},
		{"no histogram", nil, hist(1, 1, 1, 1, 1, 1), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hostState{sched: tc.before, nivcsw: 10, minflt: 100, majflt: 1, stealTicks: 50,
				utime: syscall.Timeval{Sec: 1, Usec: 500000}, stime: syscall.Timeval{Sec: 2}}
			after := hostState{sched: tc.after, nivcsw: 13, minflt: 150, majflt: 1, stealTicks: 75,
				utime: syscall.Timeval{Sec: 4}, stime: syscall.Timeval{Sec: 2, Usec: 250000}}
			d := diffHost(before, after, 16e-3)
			if d.SchedWaitMaxNS != tc.wantMax || d.SchedWaitsOver != tc.wantOver {
				t.Errorf("sched max %d over %d, want %d and %d", d.SchedWaitMaxNS, d.SchedWaitsOver, tc.wantMax, tc.wantOver)
			}
			if d.InvolSwitches != 3 || d.MinorFaults != 50 || d.MajorFaults != 0 || d.StealSec != 0.25 ||
				d.UserSec != 2.5 || d.SysSec != 0.25 {
				t.Errorf("counters %+v", d)
			}
		})
	}
}

// TestReadHostState reads the real counters: the scheduler histogram
// exists in this runtime (its name is not misspelt), and touching a
// fresh mapping moves the fault counter.
func TestReadHostState(t *testing.T) {
	s0 := readHostState()
	if s0.sched == nil {
		t.Fatalf("runtime/metrics has no %s", schedLatencyMetric)
	}
	b, err := syscall.Mmap(-1, 0, 8<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(b)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	if d := diffHost(s0, readHostState(), 16e-3); d.MinorFaults <= 0 || d.UserSec+d.SysSec <= 0 {
		t.Errorf("touching 8 MiB of fresh memory counted %d minor faults and %.6f s of CPU", d.MinorFaults, d.UserSec+d.SysSec)
	}
}

// TestBenchJSONHostFields: the host counters reach bench's JSON under
// their documented names (they come from an embedded struct, whose tags
// a refactor could lose without any other test noticing).
func TestBenchJSONHostFields(t *testing.T) {
	args := append(slices.Clone(smallBench), "--json")
	var m map[string]any
	runCLI(t, args...).mustCode(t, exitOK).decodeJSON(t, &m)
	for _, k := range []string{"sched_wait_max_ns", "sched_waits_over_stall_threshold", "involuntary_switches", "minor_faults", "major_faults", "steal_sec", "user_sec", "sys_sec"} {
		if _, ok := m[k]; !ok {
			t.Errorf("bench --json has no %q", k)
		}
	}
}
