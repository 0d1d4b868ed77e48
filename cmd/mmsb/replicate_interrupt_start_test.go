package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicateInterruptedWhileStarting: an interrupt while a replication
// node started (connecting, finding its stream) failed replicate (and
// serve --replicate) with
// "replicate: stream MMSB_LOG_mmsb: context canceled", and a --duration
// shorter than the start with "... context deadline exceeded": neither
// said what happened. They now say the node was interrupted before it
// started, or that --duration ended first (exit 1 as before). The
// interrupt is a context canceled before the command runs: the node's
// start is then certain to see it.
func TestReplicateInterruptedWhileStarting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		cancel bool
		want   string
	}{
		{"interrupt", []string{"replicate", "--status-every", "0"}, true, "interrupted before it started: context canceled"},
		{"interrupt, with a load", []string{"replicate", "--status-every", "0", "--load", "--duration", "30s"}, true, "interrupted before it started: context canceled"},
		{"duration shorter than the start", []string{"replicate", "--status-every", "0", "--duration", "1ms"}, false, "--duration ended before the node started"},
		{"serve --replicate, interrupt", []string{"serve", "--replicate", "--addr", "127.0.0.1:0"}, true, "interrupted before it started: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tc.cancel {
				cancel()
			}
			var stdout, stderr strings.Builder
			code := run(ctx, append(tc.args, "--dir", dir), &stdout, &stderr)
			if code != exitFailure {
				t.Fatalf("exit status %d, want %d\nstderr: %s", code, exitFailure, stderr.String())
			}
			if !strings.Contains(stderr.String(), "replication node on "+dir) || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to name %s and say %q", stderr.String(), dir, tc.want)
			}
		})
	}
}
