package main

import "time"

// StallCauses classifies the commits slower than a threshold by what the
// committing thread did meanwhile, from its own CPU time and page faults
// (getrusage RUSAGE_THREAD before and after each commit; the committing
// goroutine is locked to its thread). A latency histogram cannot tell a
// commit that waited from one that worked, and a trace shows a goroutine
// as running while its thread takes page faults or its VM's CPU is taken
// by the host.
type StallCauses struct {
	// CommitFaults is the page faults the committing thread took inside
	// commits (memory touched for the first time on the commit's path).
	CommitFaults int64 `json:"commit_faults"`
	// Stalls is the commits over --stall-threshold, split three ways:
	// OffCPU: the thread ran for less than half the commit (it waited for
	// a lock held by another goroutine, or for a CPU); InKernel: the
	// kernel's share was at least half (page faults, system calls);
	// InUser: the rest, on the CPU in user mode for at least half, which
	// on a VM includes time its vCPU was stopped by the host (the guest
	// counts it as the running thread's).
	Stalls         int `json:"stalls"`
	StallsOffCPU   int `json:"stalls_off_cpu"`
	StallsInKernel int `json:"stalls_in_kernel"`
	StallsInUser   int `json:"stalls_in_user"`
}

// threadUsage is one reading of the calling thread's counters.
type threadUsage struct {
	user, sys time.Duration
	faults    int64
}

// stallCause names the class of a commit that took lat while its thread
// used user and sys CPU time: "off-cpu", "kernel" or "user".
func stallCause(lat, user, sys time.Duration) string {
	switch {
	case 2*(user+sys) < lat:
		return "off-cpu"
	case 2*sys >= lat:
		return "kernel"
	default:
		return "user"
	}
}

// note adds one commit of latency lat, between the readings before and
// after, to the counts.
func (c *StallCauses) note(lat, threshold time.Duration, before, after threadUsage) {
	c.CommitFaults += after.faults - before.faults
	if lat <= threshold {
		return
	}
	c.Stalls++
	switch stallCause(lat, after.user-before.user, after.sys-before.sys) {
	case "off-cpu":
		c.StallsOffCPU++
	case "kernel":
		c.StallsInKernel++
	default:
		c.StallsInUser++
	}
}
