package main

import (
	"sort"
	"time"
)

// StallCauses says why the commits slower than a threshold were slow.
// By default (--stall-causes) it reads only the time the hypervisor took
// from the VM's CPUs (steal, from /proc/stat) as each commit ends, which
// changes nothing about how the commits run. With --stall-threads the
// committing goroutine is also locked to its thread, whose own counters
// are read before and after each commit: its CPU time and page faults
// (getrusage RUSAGE_THREAD) and the time it was runnable but not running
// (the kernel's schedstat). A latency histogram cannot tell a commit that
// waited from one that worked, and a trace shows a goroutine as running
// while its thread takes page faults or its VM's CPU is taken by the host.
//
// Locking the thread perturbs what it measures: a goroutine locked to its
// thread hands its processor over through the kernel whenever it blocks,
// so each wait for the checkpoint's read lock becomes two thread wake-ups
// (on the 2-core AMD EPYC VM, commit p99 during checkpoints 2.3-4.1 ms
// with --stall-threads, 1.2-2.4 ms without: docs/benchmarks.md).
type StallCauses struct {
	// ThreadCounters says whether the committing thread's own counters
	// were read (--stall-threads); the fields marked "threads" are zero
	// otherwise.
	ThreadCounters bool `json:"thread_counters"`
	// CommitFaults is the page faults the committing thread took inside
	// commits (memory touched for the first time on the commit's path).
	// Threads.
	CommitFaults int64 `json:"commit_faults"`
	// CommitCPUP99NS and CheckpointCommitCPUP99NS are the 99th percentile
	// of the committing thread's CPU time per commit, over all commits and
	// over those that overlapped a checkpoint: beside the latency
	// percentiles they tell work (copy on write) from waiting. Threads.
	CommitCPUP99NS           int64 `json:"commit_cpu_p99_ns"`
	CheckpointCommitCPUP99NS int64 `json:"checkpoint_commit_cpu_p99_ns"`
	// Stalls is the commits over --stall-threshold. StallsStolen counts
	// those during which the hypervisor took at least half the commit's
	// time from the VM's CPUs (steal summed over them, counted from the
	// end of the commit before, and read in 10 ms ticks, so only stalls
	// of tens of milliseconds are told apart).
	Stalls       int `json:"stalls"`
	StallsStolen int `json:"stalls_stolen"`
	// Threads: the stalls split three ways. OffCPU: the thread ran for
	// less than half the commit (it waited for a lock held by another
	// goroutine, or for a CPU); InKernel: the kernel's share was at least
	// half (page faults, system calls); InUser: the rest, on the CPU in
	// user mode for at least half. StallsWaitingCPU counts the stalls (of
	// any class) whose thread was runnable but not running for at least
	// half the commit: the guest kernel had no CPU for it.
	StallsOffCPU     int `json:"stalls_off_cpu"`
	StallsInKernel   int `json:"stalls_in_kernel"`
	StallsInUser     int `json:"stalls_in_user"`
	StallsWaitingCPU int `json:"stalls_waiting_cpu"`
	// Worst is the slowest stalls, slowest first (at most stallWorstKept).
	Worst []Stall `json:"stall_worst,omitempty"`

	cpu, cpuCkpt latencyHist
}

// Stall is one commit over the threshold and what its thread did.
type Stall struct {
	LatencyNS  int64 `json:"latency_ns"`
	UserNS     int64 `json:"user_ns"`
	SysNS      int64 `json:"sys_ns"`
	RunDelayNS int64 `json:"run_delay_ns"` // runnable, not running
	StealNS    int64 `json:"steal_ns"`     // taken by the hypervisor, all the VM's CPUs (10 ms ticks)
	Faults     int64 `json:"faults"`
	Checkpoint bool  `json:"checkpoint"` // a checkpoint ran during the commit
	// CheckpointsDone is how many checkpoints had completed when the
	// commit ended: 0 for a commit during the process's first, whose
	// fresh memory a VM's host may charge to the VM's CPU budget.
	CheckpointsDone uint64 `json:"checkpoints_done"`
	Cause           string `json:"cause,omitempty"` // stallCause's class (threads)
}

// stallWorstKept is how many of the slowest stalls StallCauses keeps.
const stallWorstKept = 8

// threadUsage is one reading of the VM's steal and, when thread is set,
// of the calling thread's own counters.
type threadUsage struct {
	steal     time.Duration
	thread    bool
	user, sys time.Duration
	faults    int64
	runDelay  time.Duration
}

// cpuSplit returns the thread's user and system CPU time between two
// readings. Their total is exact (the thread's CPU clock); the system
// share comes from getrusage's tick-grained split, which can grow by more
// than the total did between two close readings, so that user time,
// total less system, came out negative: "-0.001 ms user" in bench's stall
// list, a negative user_ns in its JSON (TestStallCPUSplitNeverNegative).
// The system share is held within [0, total].
func cpuSplit(before, after threadUsage) (user, sys time.Duration) {
	total := max(after.user+after.sys-before.user-before.sys, 0)
	sys = min(max(after.sys-before.sys, 0), total)
	return total - sys, sys
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
// after, to the counts; ckpt says whether it overlapped a checkpoint, and
// done, called only for a stall, how many checkpoints had completed.
func (c *StallCauses) note(lat, threshold time.Duration, ckpt bool, done func() uint64, before, after threadUsage) {
	user, sys := cpuSplit(before, after)
	if after.thread {
		c.CommitFaults += after.faults - before.faults
		c.cpu.record(int64(user + sys))
		if ckpt {
			c.cpuCkpt.record(int64(user + sys))
		}
	}
	if lat <= threshold {
		return
	}
	c.Stalls++
	s := Stall{LatencyNS: int64(lat), StealNS: int64(after.steal - before.steal), Checkpoint: ckpt, CheckpointsDone: done()}
	if 2*s.StealNS >= s.LatencyNS {
		c.StallsStolen++
	}
	if after.thread {
		s.UserNS, s.SysNS = int64(user), int64(sys)
		s.RunDelayNS, s.Faults = int64(after.runDelay-before.runDelay), after.faults-before.faults
		s.Cause = stallCause(lat, user, sys)
		switch s.Cause {
		case "off-cpu":
			c.StallsOffCPU++
		case "kernel":
			c.StallsInKernel++
		default:
			c.StallsInUser++
		}
		if 2*s.RunDelayNS >= s.LatencyNS {
			c.StallsWaitingCPU++
		}
	}
	c.keepWorst(s)
}

// keepWorst keeps s if it is among the stallWorstKept slowest so far.
func (c *StallCauses) keepWorst(s Stall) {
	if len(c.Worst) == stallWorstKept && s.LatencyNS <= c.Worst[len(c.Worst)-1].LatencyNS {
		return
	}
	if len(c.Worst) == stallWorstKept {
		c.Worst = c.Worst[:stallWorstKept-1]
	}
	i := sort.Search(len(c.Worst), func(i int) bool { return c.Worst[i].LatencyNS < s.LatencyNS })
	c.Worst = append(c.Worst, Stall{})
	copy(c.Worst[i+1:], c.Worst[i:])
	c.Worst[i] = s
}

// finish fills the percentiles once the commits are over.
func (c *StallCauses) finish() {
	c.CommitCPUP99NS = c.cpu.quantile(0.99)
	c.CheckpointCommitCPUP99NS = c.cpuCkpt.quantile(0.99)
}
