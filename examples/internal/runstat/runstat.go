// Package runstat holds the small measurement helpers the examples share:
// the median of repeated timings and the machine's load average, printed
// beside each report so that a reader can tell a busy machine's figures.
package runstat

import (
	"os"
	"slices"
	"strings"
)

// Median returns the median of xs (the mean of the middle two for an even
// count; 0 for none). xs is not changed.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// LoadAverage returns the 1, 5 and 15 minute load averages as
// /proc/loadavg gives them ("" where it is not there).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
