package main

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"syscall"
)

// hostState is a snapshot of what, outside MMSB's own code, can make a
// commit wait: the Go scheduler leaving a runnable goroutine waiting,
// the kernel switching this process's threads out, page faults, and the
// hypervisor running someone else on this VM's CPUs (steal). bench
// reports the difference between two snapshots so that a slow commit or
// a slow run can be told apart from a slow machine without a trace.
type hostState struct {
	sched      *metrics.Float64Histogram // /sched/latencies:seconds
	nivcsw     int64                     // involuntary context switches
	minflt     int64
	majflt     int64
	utime      syscall.Timeval // CPU time in user mode
	stime      syscall.Timeval // and in the kernel
	stealTicks int64           // /proc/stat "cpu" steal column, in USER_HZ ticks
}

const schedLatencyMetric = "/sched/latencies:seconds"

func readHostState() hostState {
	var st hostState
	s := []metrics.Sample{{Name: schedLatencyMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		st.sched = s[0].Value.Float64Histogram()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		st.nivcsw, st.minflt, st.majflt = int64(ru.Nivcsw), int64(ru.Minflt), int64(ru.Majflt)
		st.utime, st.stime = ru.Utime, ru.Stime
	}
	st.stealTicks = readStealTicks()
	return st
}

// readStealTicks returns the steal column of /proc/stat's aggregate "cpu"
// line, or 0 where the file or the column is missing.
func readStealTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return stealTicks(b)
}

// stealTicks returns the steal column (the eighth value) of the aggregate
// "cpu" line of /proc/stat's contents b, or 0 where it is missing.
func stealTicks(b []byte) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) > 8 && string(f[0]) == "cpu" {
			v, err := strconv.ParseInt(string(f[8]), 10, 64)
			if err != nil {
				return 0
			}
			return v
		}
	}
	return 0
}

// hostDelta is what happened between two host snapshots (embedded in
// bench's JSON result).
type hostDelta struct {
	// SchedWaitMaxNS is the lower edge of the highest bucket of the Go
	// scheduler's latency histogram (time a goroutine spent runnable
	// before it ran) that grew; SchedWaitsOver counts waits whose bucket
	// lies wholly at or above the threshold.
	SchedWaitMaxNS int64   `json:"sched_wait_max_ns"`
	SchedWaitsOver uint64  `json:"sched_waits_over_stall_threshold"`
	InvolSwitches  int64   `json:"involuntary_switches"`
	MinorFaults    int64   `json:"minor_faults"`
	MajorFaults    int64   `json:"major_faults"`
	StealSec       float64 `json:"steal_sec"`
	// UserSec and SysSec are the CPU time the process used, in user mode
	// and in the kernel (page faults, writes into the page cache): on a
	// shared machine whose speed swings they show what a change saves
	// better than throughput does.
	UserSec float64 `json:"user_sec"`
	SysSec  float64 `json:"sys_sec"`
}

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func diffHost(before, after hostState, threshold float64) hostDelta {
	d := hostDelta{
		InvolSwitches: after.nivcsw - before.nivcsw,
		MinorFaults:   after.minflt - before.minflt,
		MajorFaults:   after.majflt - before.majflt,
		StealSec:      float64(after.stealTicks-before.stealTicks) / clockTicks,
		UserSec:       float64(after.utime.Nano()-before.utime.Nano()) / 1e9,
		SysSec:        float64(after.stime.Nano()-before.stime.Nano()) / 1e9,
	}
	b, a := before.sched, after.sched
	if b == nil || a == nil || len(b.Counts) != len(a.Counts) {
		return d
	}
	for i := range a.Counts {
		grew := a.Counts[i] - b.Counts[i]
		if grew == 0 {
			continue
		}
		lo := a.Buckets[i]
		if !math.IsInf(lo, -1) {
			d.SchedWaitMaxNS = int64(lo * 1e9)
		}
		if lo >= threshold {
			d.SchedWaitsOver += grew
		}
	}
	return d
}
