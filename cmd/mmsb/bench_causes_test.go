package main

import (
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
// commit is counted as a stall and put in exactly one class, and the
// counts reach the JSON; without --stall-causes they are absent.
func TestBenchStallCauses(t *testing.T) {
	if !threadUsageSupported {
		t.Skip("--stall-causes needs Linux")
	}
	res := benchJSON(t, "--stall-causes", "--stall-threshold", "1ns", "--no-verify")
	c := res.StallCauses
	if c == nil {
		t.Fatal("no stall causes in the JSON")
	}
	if c.Stalls != int(res.Batches) || c.StallsOffCPU+c.StallsInKernel+c.StallsInUser != c.Stalls || c.CommitFaults < 0 {
		t.Fatalf("%d batches, causes %+v", res.Batches, *c)
	}
	if res := benchJSON(t, "--no-verify"); res.StallCauses != nil {
		t.Fatalf("stall causes without --stall-causes: %+v", *res.StallCauses)
	}
}
