package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestServeTicksBelowMinimum: a --ticks period below tick.MinInterval
// (1 ms) is a usage error naming the flag and the bound, before anything
// starts. `mmsb serve --ticks 1ns` was accepted and ran the tick
// orchestrator back to back, a core busy on an idle bus. 0 (off) and
// 1ms stay accepted.
func TestServeTicksBelowMinimum(t *testing.T) {
	ok := serveOptions{maxRequestBytes: 1, maxStreams: 1, maxConns: 1, maxRequests: 1, watchQueue: 1, maxWatchers: 1, maxAsOfReads: 1, maxLogQueries: 1}
	for _, v := range []time.Duration{0, time.Millisecond, 16 * time.Millisecond} {
		o := ok
		o.ticks = v
		if err := o.checkLimits(); err != nil {
			t.Errorf("--ticks %v: %v, want it accepted", v, err)
		}
	}
	for _, v := range []string{"1ns", "999us"} {
		// The deadline only ends a serve that started (the defect), which
		// then exits 0 and fails the check below.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		var out, errb bytes.Buffer
		code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--ticks", v}, &out, &errb)
		cancel()
		want := "--ticks must be 0 (off) or at least 1ms, got " + strings.Replace(v, "us", "µs", 1)
		if code != exitUsage || !strings.Contains(errb.String(), want) {
			t.Errorf("serve --ticks %s: exit %d, stderr %q; want exit %d naming %q", v, code, errb.String(), exitUsage, want)
		}
	}
}
