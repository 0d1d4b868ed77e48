package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestReplBenchHashMismatchFailsInBothFormats: a follower whose state
// hash differs from the leader's is the benchmark's failure (exit 1),
// whatever the output format: with --json it printed the result and
// exited 0, so a script saw a good run. As bench does with a replay
// mismatch, the figures are still printed (hashes_equal false is the
// finding) and stderr says what failed.
func TestReplBenchHashMismatchFailsInBothFormats(t *testing.T) {
	for _, jsonOut := range []bool{false, true} {
		var out, errb bytes.Buffer
		a := &app{stdout: &out, stderr: &errb}
		r := &replBenchResult{Replicas: 1, Batch: 10, Committers: 1, Commits: 5, LeaderLSN: 50, FollowerLSN: 50, HashesEqual: false}
		code := a.exitStatus(nil, a.reportReplBench(r, jsonOut))
		if code != exitFailure || !strings.Contains(errb.String(), "differs from the leader's") {
			t.Errorf("--json=%v: exit status %d, stderr %q; want %d and the state difference named", jsonOut, code, errb.String(), exitFailure)
		}
		if jsonOut {
			var got replBenchResult
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.HashesEqual {
				t.Errorf("--json: stdout %q (%v), want the result with follower_state_hash_equal false", out.String(), err)
			}
		}
	}
}

// TestReplBenchReportRoundsDurations: the text report prints latencies
// with three significant digits, as bench's reports do; it printed
// Duration's String to the nanosecond ("14.918269ms").
func TestReplBenchReportRoundsDurations(t *testing.T) {
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb}
	r := &replBenchResult{Replicas: 1, Batch: 10, Committers: 1, Commits: 5, LeaderLSN: 50, FollowerLSN: 50, HashesEqual: true,
		CommitP50NS: 14918269, CommitP99NS: 1234567890, LagP50NS: 35712, LagP99NS: 999999}
	if err := a.reportReplBench(r, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p50 14.9ms  p99 1.23s", "p50 35.7µs  p99 1ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "14.918269ms") {
		t.Errorf("report prints a raw duration:\n%s", out.String())
	}
}
