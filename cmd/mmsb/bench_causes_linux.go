package main

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// threadUsageSupported says whether readThreadUsage works here.
const threadUsageSupported = true

// rusageThread is Linux's RUSAGE_THREAD (syscall does not name it).
const rusageThread = 1

// readThreadUsage reads the calling thread's CPU time and minor faults.
// The total comes from the thread's CPU clock, which is exact; the
// kernel's share from getrusage, which splits the total by where the
// scheduler's ticks found the thread, so it is only as fine as a tick
// (1-4 ms): good enough for stalls of tens of milliseconds.
func readThreadUsage() threadUsage {
	var u threadUsage
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) == nil {
		u.user = time.Duration(ts.Nano())
	}
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) == nil {
		u.sys = min(time.Duration(ru.Stime.Nano()), u.user)
		u.faults = int64(ru.Minflt)
	}
	u.user -= u.sys
	return u
}
