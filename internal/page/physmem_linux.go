//go:build linux

package page

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// PhysicalMemory returns how many bytes of memory this process can hold
// resident: the machine's RAM (sysinfo), or its cgroup's memory.max (v2)
// when that is smaller; 0 when neither can be read.
func PhysicalMemory() int64 {
	var n int64
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		n = int64(si.Totalram) * int64(si.Unit)
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64); err == nil && v > 0 && (n == 0 || v < n) {
			n = v // "max" (no limit) does not parse
		}
	}
	return n
}
