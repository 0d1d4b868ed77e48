package page

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex operations on a word of a MAP_SHARED mapping (no FUTEX_PRIVATE_FLAG:
// the waiters are other processes). FUTEX_WAIT only reads the word, so it
// works on a reader's PROT_READ mapping.
const (
	futexWait = 0
	futexWake = 1
)

// futexWakeAll wakes every process waiting on p.
func futexWakeAll(p *uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(p)), futexWake, 1<<31-1, 0, 0, 0)
}

// futexWaitFor sleeps while *p == val, at most d (spurious and early
// wake-ups are fine: callers re-check).
func futexWaitFor(p *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(d.Nanoseconds())
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(p)), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}
