package main

import (
	"strconv"
	"strings"
	"testing"
)

// pagesPastInt is what --pages 10^12 is refused with: past the bound on a
// 64-bit build, and past int's range on a 32-bit one, where the flag
// parser refuses it first (intFlag).
var pagesPastInt = map[bool]string{
	true:  "--pages must be in 1..16777216, got 1000000000000",
	false: `--pages "1000000000000": out of the range the flag holds`,
}[strconv.IntSize == 64]

// Each bad loadtest flag is refused before any connection, naming the
// flag and the value given (one message listed every constraint at once),
// above an upper bound too (--pages, --duration had none).
func TestLoadtestBadFlagsNamed(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "0"}, "--clients must be in 1..4096, got 0"},
		{[]string{"--clients", "5000"}, "--clients must be in 1..4096, got 5000"},
		{[]string{"--batch", "0"}, "--batch must be in 1..1048576, got 0"},
		{[]string{"--batch", "100000000"}, "--batch must be in 1..1048576, got 100000000"},
		{[]string{"--pages", "0"}, "--pages must be in 1..16777216, got 0"},
		// No upper bound: the run created pages until the server's page
		// memory refused one, minutes and gigabytes later.
		{[]string{"--pages", "1000000000000"}, pagesPastInt},
		{[]string{"--pages", "16777217"}, "--pages must be in 1..16777216, got 16777217"},
		{[]string{"--pages", "16777216", "--page-size", "8192"},
			"--pages × --page-size must be at most 68719476736 (64 GiB for the server to hold), got 16777216 × 8192"},
		{[]string{"--duration", "0s"}, "--duration must be positive and at most 1h0m0s, got 0s"},
		{[]string{"--duration", "-1s"}, "--duration must be positive and at most 1h0m0s, got -1s"},
		// Each commit's latency is kept: 1000h grew without bound.
		{[]string{"--duration", "1000h"}, "--duration must be positive and at most 1h0m0s, got 1000h0m0s"},
		{[]string{"--page-size", "0"}, "--page-size must be in 1..16777216, got 0"},
		{[]string{"--delta-bytes", "0"}, "--delta-bytes must be in 1..page size (1024), got 0"},
		{[]string{"--delta-bytes", "2000"}, "--delta-bytes must be in 1..page size (1024), got 2000"},
		{[]string{"--watchers", "-1"}, "--watchers must be in 0..10000, got -1"},
		{[]string{"--stalled-watchers", "100000"}, "--stalled-watchers must be in 0..10000, got 100000"},
		{[]string{"--watchers", "1", "--stalled-watchers", "1"}, "exclude each other"},
		// Each client holds its batch's payload: 16 TiB here, and the
		// run died out of memory until 2026-12-06.
		{[]string{"--batch", "1048576", "--page-size", "16777216", "--delta-bytes", "16777216"},
			"--clients × --batch × --delta-bytes must be at most 1073741824 (1 GiB, each client holds a batch), got 1 × 1048576 × 16777216"},
		{[]string{"--clients", "64", "--batch", "1024", "--delta-bytes", "32768", "--page-size", "1048576"}, "got 64 × 1024 × 32768"},
	}
	for _, tc := range tests {
		// An address nothing listens on: a flag check that let a run
		// start would fail later with exit 1, not 2.
		r := runCLI(t, append([]string{"loadtest", "--server", "http://127.0.0.1:1"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("loadtest %v: exit %d, stderr %q; want exit %d naming %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}

// TestLoadtestUpperBoundsAccepted: the upper bounds themselves are
// accepted (the control of TestLoadtestBadFlagsNamed's rows past them).
func TestLoadtestUpperBoundsAccepted(t *testing.T) {
	o := loadtestOptions{clients: 1, batch: 1, pages: maxLoadtestPages, pageSize: 4096, deltaBytes: 16, duration: maxLoadtestDuration}
	if err := o.check(); err != nil {
		t.Fatalf("--pages %d --page-size %d --duration %s: %v, want it accepted", o.pages, o.pageSize, o.duration, err)
	}
}
