package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/harness"
)

// TestHostileFlagValues: flag values at the edges of their types. Each was
// accepted and then panicked, reported wrong figures, allocated without
// bound or ran for hours; each is now a usage error naming the flag
// (exit 2, nothing attempted), or runs correctly.
func TestHostileFlagValues(t *testing.T) {
	maxInt := strconv.FormatInt(math.MaxInt64, 10)
	huge := filepath.Join(t.TempDir(), "huge.json")
	var raw map[string]any
	if err := json.Unmarshal(harness.DefaultTargets(), &raw); err != nil {
		t.Fatal(err)
	}
	raw["benchmarks"].([]any)[0].(map[string]any)["thresholds"].(map[string]any)["sources"] = 1e12
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(huge, b, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	small := []string{"bench", "--no-progress", "--pages", "16"}
	growth := append(append([]string{}, small...), "--workload", "growth", "--growth-pages", "16", "--growth-batch-pages", "16")
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		// #5 measured every worker count up to --workers.
		{"validate --workers past MaxWorkers", []string{"validate", "--workers", "1025", "--only", "4"}, "--workers must be in 0..1024"},
		{"validate --workers huge", []string{"validate", "--workers", "100000000", "--only", "4"}, "--workers must be in 0..1024"},
		// A targets file sizing #1 with 1e12 sources ran out of memory.
		{"validate --targets with a huge size", []string{"validate", "--quick", "--only", "1", "--targets", huge},
			`replay: size "sources" is 1e+12, above its bound 4096`},
		{"validate --targets a device", []string{"validate", "--quick", "--only", "1", "--targets", os.DevNull}, "is not a regular file"},
		// One batch is one log record of at most 256 MiB: the buffers of
		// a larger one were allocated first (about 90 GB here).
		{"bench --batch past a log record", append(append([]string{}, small...), "--batch", "1000000000", "--count", "1000000000"),
			"--batch 1000000000 × --delta-size 16: more than the 268435456 bytes a log record holds"},
		{"bench growth batch past a log record", append(append([]string{}, growth...), "--count", "100000000", "--growth-batches", "100000000"),
			"batch 100000000 × --delta-size 16: more than the 268435456 bytes"},
		// A --dir that is a file exited 1, as if the bench had failed.
		{"bench --dir a file", append(append([]string{}, small...), "--count", "10", "--dir", file), "--dir " + file + ": "},
		{"bench --stall-threshold negative", append(append([]string{}, small...), "--count", "10", "--stall-threshold", "-1s"), "--stall-threshold must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Fatalf("stderr lacks %q (or stdout not empty):\n%s\n%s", tc.want, r.stderr, r.stdout)
			}
		})
	}

	// --batch near MaxInt64: (count+batch-1)/batch overflowed to a
	// negative batch count, and bench reported "1000 deltas in 0 batches"
	// at a rate while committing none.
	t.Run("bench --batch MaxInt64", func(t *testing.T) {
		r := runCLI(t, append(append([]string{}, small...), "--count", "1000", "--batch", maxInt, "--json")...).mustCode(t, exitOK)
		var res struct {
			Deltas, Batches int64
			LastLSN         uint64 `json:"last_lsn"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		// 16 creates and 1000 deltas, one LSN each.
		if res.Deltas != 1000 || res.Batches != 1 || res.LastLSN != 1016 {
			t.Fatalf("deltas %d in %d batches, last LSN %d, want 1000 in 1, 1016\n%s", res.Deltas, res.Batches, res.LastLSN, r.stdout)
		}
	})
	// --growth-batches near MaxInt64: batch × 20,000 went negative and
	// the point panicked in makeslice.
	t.Run("bench growth --growth-batches MaxInt64", func(t *testing.T) {
		r := runCLI(t, append(append([]string{}, growth...), "--count", "1000", "--growth-batches", maxInt, "--json")...).mustCode(t, exitOK)
		var res growthResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if len(res.ByBatch) != 1 || res.ByBatch[0].Deltas != 1000 || !(res.ByBatch[0].DeltasPerSec > 0) {
			t.Fatalf("batch point %+v, want 1000 deltas committed", res.ByBatch)
		}
	})
}
