package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestShortDuration: the tick report's durations have three significant
// digits, as docs/cli.md shows them ("p50 2.67ms"); time.Duration's
// String printed every nanosecond ("1.062426ms").
func TestShortDuration(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		want string
	}{
		{0, "0s"},
		{999, "999ns"},
		{2434, "2.43µs"},
		{35659, "35.7µs"},
		{131982, "132µs"},
		{1062426, "1.06ms"},
		{30312345, "30.3ms"},
		{2670000000, "2.67s"},
		{9995, "10µs"},
		{3723456789012, "1h2m3s"},
	} {
		if got := shortDuration(c.ns); got != c.want {
			t.Errorf("shortDuration(%d) = %q, want %q", c.ns, got, c.want)
		}
	}
}

// TestBenchTickReportFormat: every duration of the tick workload's text
// report has at most three significant digits and a unit, and the
// throughputs are humanCount's figures ("138.7k"), not "0.00M" for a
// rate under 5,000 a second.
func TestBenchTickReportFormat(t *testing.T) {
	r := runCLI(t, "bench", "--no-progress", "--workload", "tick", "--ticks", "3", "--pages", "50", "--derived", "5", "--deltas-per-tick", "5").mustCode(t, exitOK)
	duration := regexp.MustCompile(`^(\d+(\.\d+)?)(ns|µs|ms|s)$`)
	lines := map[string][]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		for _, label := range []string{"tick latency", "phases (p50)", "throughput", "memory"} {
			if rest, ok := strings.CutPrefix(line, label); ok {
				lines[label] = strings.Fields(rest)
			}
		}
	}
	for _, c := range []struct {
		label string
		after []string // the duration follows each of these words
	}{
		{"tick latency", []string{"p50", "p99", "max"}},
		{"phases (p50)", []string{"commit", "propagate"}},
		{"memory", []string{"pause"}},
	} {
		f := lines[c.label]
		for _, word := range c.after {
			i := indexOf(f, word)
			if i < 0 || i+1 >= len(f) {
				t.Errorf("%q line %q has no duration after %q", c.label, f, word)
				continue
			}
			v := strings.TrimSuffix(f[i+1], ",")
			m := duration.FindStringSubmatch(v)
			if m == nil {
				t.Errorf("%q line: %s %q is not a duration with a unit", c.label, word, v)
				continue
			}
			if digits := len(strings.TrimLeft(strings.ReplaceAll(m[1], ".", ""), "0")); digits > 3 {
				t.Errorf("%q line: %s %q has %d significant digits, want at most 3", c.label, word, v, digits)
			}
		}
	}
	count := regexp.MustCompile(`^\d+(\.\d+)?[kMG]?$`)
	f := lines["throughput"]
	if len(f) < 4 || !count.MatchString(f[0]) || !count.MatchString(f[2]) || f[0] == "0.00M" || f[2] == "0.00M" {
		t.Errorf("throughput line %q: want humanCount figures", f)
	}
}

func indexOf(fields []string, word string) int {
	for i, f := range fields {
		if f == word {
			return i
		}
	}
	return -1
}
