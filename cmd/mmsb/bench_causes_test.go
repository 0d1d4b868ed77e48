package main

import (
	"fmt"
	"testing"
	"time"
)

// TestStallCause: a slow commit is put in the class its thread's CPU time
// says, at the boundaries too. The negative controls are the rows
// themselves: each class has a case that lands in another class with a
// little more or less CPU time.
func TestStallCause(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		lat, user, sys time.Duration
		want           string
	}{
		{40 * ms, 0, 0, "off-cpu"},                             // waited for a lock or a CPU
		{40 * ms, 15 * ms, 4 * ms, "off-cpu"},                  // 19 of 40 ms on the CPU
		{40 * ms, 16 * ms, 4 * ms, "user"},                     // 20 of 40 ms: half
		{40 * ms, 2 * ms, 20 * ms, "kernel"},                   // page faults: half in the kernel
		{40 * ms, 2 * ms, 19 * ms, "user"},                     // just under half in the kernel
		{40 * ms, 40 * ms, 0, "user"},                          // on the CPU throughout
		{40 * ms, 10 * ms, 30 * ms, "kernel"},                  // mostly faulting
		{40 * ms, 50 * ms, 1 * ms, "user"},                     // clock skew: more CPU than time
		{16 * ms, 1 * ms, 7*ms + 999*time.Microsecond, "user"}, // kernel share just under half
	} {
		if got := stallCause(tc.lat, tc.user, tc.sys); got != tc.want {
			t.Errorf("latency %v, user %v, sys %v: %s, want %s", tc.lat, tc.user, tc.sys, got, tc.want)
		}
	}
}

// TestBenchStallCauses: with a threshold every commit exceeds, every
// commit is counted as a stall, the slowest are kept slowest first, and
// with --stall-threads each stall is put in exactly one class; without
// --stall-threads the thread's counters stay zero, and without
// --stall-causes the counts are absent.
func TestBenchStallCauses(t *testing.T) {
	if !threadUsageSupported {
		t.Skip("--stall-causes needs Linux")
	}
	for _, threads := range []bool{false, true} {
		args := []string{"--stall-causes", "--stall-threshold", "1ns", "--no-verify"}
		if threads {
			args = append(args, "--stall-threads")
		}
		res := benchJSON(t, args...)
		c := res.StallCauses
		if c == nil {
			t.Fatal("no stall causes in the JSON")
		}
		if c.ThreadCounters != threads || c.Stalls != int(res.Batches) || c.StallsStolen > c.Stalls {
			t.Fatalf("threads %v: %d batches, causes %+v", threads, res.Batches, *c)
		}
		if len(c.Worst) != min(stallWorstKept, c.Stalls) || c.Worst[0].LatencyNS != res.LatencyMaxNS {
			t.Fatalf("threads %v: worst %+v, max latency %d", threads, c.Worst, res.LatencyMaxNS)
		}
		classes := c.StallsOffCPU + c.StallsInKernel + c.StallsInUser
		if threads && (classes != c.Stalls || c.CommitFaults < 0 || c.CommitCPUP99NS <= 0 || c.Worst[0].Cause == "") {
			t.Fatalf("--stall-threads: causes %+v", *c)
		}
		if !threads && (classes != 0 || c.CommitCPUP99NS != 0 || c.Worst[0].Cause != "") {
			t.Fatalf("thread counters read without --stall-threads: %+v", *c)
		}
		for _, s := range c.Worst {
			if s.CheckpointsDone > res.Checkpoints {
				t.Fatalf("a stall after %d checkpoints of %d", s.CheckpointsDone, res.Checkpoints)
			}
		}
	}
	if res := benchJSON(t, "--no-verify"); res.StallCauses != nil {
		t.Fatalf("stall causes without --stall-causes: %+v", *res.StallCauses)
	}
}

// TestStallWorst: keepWorst keeps the stallWorstKept slowest, slowest
// first, whatever the order they come in. Control: keeping the first
// ones seen fails it (the slowest come last here).
func TestStallWorst(t *testing.T) {
	var c StallCauses
	for _, lat := range []int64{5, 1, 9, 3, 7, 2, 8, 4, 6, 10, 11, 0} {
		c.keepWorst(Stall{LatencyNS: lat})
	}
	var got []int64
	for _, s := range c.Worst {
		got = append(got, s.LatencyNS)
	}
	want := []int64{11, 10, 9, 8, 7, 6, 5, 4}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("worst %v, want %v", got, want)
	}
}

// TestStallNote: a stall counts as stolen when steal covers at least half
// its latency, and thread classes only come with thread readings. The
// rows on both sides of each boundary are the controls.
func TestStallNote(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		lat, steal time.Duration
		thread     bool
		stolen     int
		offCPU     int
	}{
		{20 * ms, 10 * ms, false, 1, 0},
		{21 * ms, 10 * ms, false, 0, 0},
		{20 * ms, 10 * ms, true, 1, 1},
		{4 * ms, 0, true, 0, 1},
	} {
		var c StallCauses
		before := threadUsage{thread: tc.thread, steal: 100 * ms}
		after := threadUsage{thread: tc.thread, steal: 100*ms + tc.steal}
		calls := 0
		done := func() uint64 { calls++; return 3 }
		c.note(tc.lat, 2*ms, false, done, before, after)
		c.note(ms, 2*ms, false, done, before, after) // under the threshold: no stall, done not asked
		if c.Stalls != 1 || c.StallsStolen != tc.stolen || c.StallsOffCPU != tc.offCPU || c.Worst[0].StealNS != int64(tc.steal) ||
			c.Worst[0].CheckpointsDone != 3 || calls != 1 {
			t.Errorf("%+v: %d stalls, %d stolen, %d off CPU, worst %+v, checkpoints asked %d times", tc, c.Stalls, c.StallsStolen, c.StallsOffCPU, c.Worst, calls)
		}
	}
}

// TestStallCPUSplitNeverNegative: the system share of a commit's CPU time
// comes from getrusage's tick-grained split, which can grow by more than
// the exact total did between two readings; the user share (total less
// system) was then negative, printed "-0.001 ms user". Each share lies in
// [0, total] now, and the two add up to the total.
func TestStallCPUSplitNeverNegative(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		name              string
		before, after     threadUsage
		wantUser, wantSys time.Duration
	}{
		// A tick moved 4 ms of earlier CPU time into sys: total 1 ms.
		{"sys grew past the total", threadUsage{user: 10 * ms, sys: 4 * ms}, threadUsage{user: 7 * ms, sys: 8 * ms}, 0, 1 * ms},
		{"plain", threadUsage{user: 10 * ms, sys: 4 * ms}, threadUsage{user: 12 * ms, sys: 5 * ms}, 2 * ms, 1 * ms},
		// The split moved the other way: sys shrank.
		{"sys shrank", threadUsage{user: 10 * ms, sys: 4 * ms}, threadUsage{user: 15 * ms, sys: 3 * ms}, 4 * ms, 0},
	} {
		user, sys := cpuSplit(tc.before, tc.after)
		if user != tc.wantUser || sys != tc.wantSys {
			t.Errorf("%s: user %v sys %v, want %v and %v", tc.name, user, sys, tc.wantUser, tc.wantSys)
		}
		var c StallCauses
		tc.before.thread, tc.after.thread = true, true
		c.note(20*ms, 2*ms, false, func() uint64 { return 0 }, tc.before, tc.after)
		if s := c.Worst[0]; s.UserNS < 0 || s.SysNS < 0 {
			t.Errorf("%s: stall with user_ns %d, sys_ns %d", tc.name, s.UserNS, s.SysNS)
		}
	}
}
