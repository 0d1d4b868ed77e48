//go:build stress

package stress

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

// workloadErr says why a workload flag's value v is too small to check
// anything: below min, a suite ran no work (or, for the stability suite,
// no validator check) and passed vacuously; -stress.pages=0 divided by
// zero.
func workloadErr(flagName string, v, min int) error {
	if v < min {
		return fmt.Errorf("-%s=%d: at least %d needed, a smaller run checks nothing", flagName, v, min)
	}
	return nil
}

// requireWorkload fails the test when workloadErr refuses v.
func requireWorkload(t testing.TB, flagName string, v, min int) {
	t.Helper()
	if err := workloadErr(flagName, v, min); err != nil {
		t.Fatal(err)
	}
}

// Workload sizes. The defaults are the sizes the suites are specified at;
// the flags let a developer run a smaller version while iterating, e.g.
// `go test -tags stress ./tests/stress/ -stress.deltas=1000000`.
var (
	flagDeltas = flag.Int("stress.deltas", 10_000_000, "throughput: deltas committed per worker count")
	flagCycles = flag.Int("stress.cycles", 10_000, "stability: cycles of the random workload")
	flagPages  = flag.Int("stress.pages", 1_000_000, "memory: pages created and written")
	flagSeed   = flag.Uint64("stress.seed", 1, "seed of every random workload")
)

// figure prints one measurement as "    stress_<name> k=v ...". The line goes
// to stdout, not t.Log, so that it starts with the prefix the CI script
// filters on; the indentation matches t.Log's under -v.
func figure(t testing.TB, name string, kv ...any) {
	t.Helper()
	var b strings.Builder
	b.WriteString("    stress_")
	b.WriteString(name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	fmt.Println(b.String())
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }
