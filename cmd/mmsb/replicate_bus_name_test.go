package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicationBusNameRefused: a bus name the replication layer refuses
// (--bus, --stream, --replicate-bus) is a usage error naming the flag and
// its value, found before anything starts. The node checked it only once
// connected: replicate without --nats had started an embedded nats-server,
// made DIR.nats and printed its URL on stdout, then exited 1 with
// "replicate: invalid configuration: bus name ...". The control runs of
// follow and serve with a good name get past the check and fail on the
// unreachable server instead (exit 1).
func TestReplicationBusNameRefused(t *testing.T) {
	nats := "nats://127.0.0.1:1" // nothing listens: a run that gets this far fails with exit 1
	tests := []struct {
		name string
		args func(dir string) []string
		flag string
		code int
	}{
		{"replicate dot", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--bus", "a.b", "--duration", "2s", "--status-every", "0"}
		}, "--bus", exitUsage},
		{"replicate prefix alone", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--bus", "MMSB_LOG_", "--duration", "2s", "--status-every", "0"}
		}, "--bus", exitUsage},
		{"follow space", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--stream", "a b"}
		}, "--stream", exitUsage},
		{"follow too long", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--stream", strings.Repeat("x", 65)}
		}, "--stream", exitUsage},
		{"serve wildcard", func(dir string) []string {
			return []string{"serve", "--replicate", "--dir", dir, "--addr", "127.0.0.1:0", "--replicate-bus", "x*"}
		}, "--replicate-bus", exitUsage},
		{"follow good name", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--stream", "MMSB_LOG_ok-1"}
		}, "", exitFailure},
		{"serve good name", func(dir string) []string {
			return []string{"serve", "--replicate", "--nats", nats, "--dir", dir, "--addr", "127.0.0.1:0", "--replicate-bus", strings.Repeat("x", 64)}
		}, "", exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			// A deadline ends a command that starts instead of refusing.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr strings.Builder
			code := run(ctx, tc.args(dir), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			if tc.code != exitUsage {
				return
			}
			if !strings.Contains(stderr.String(), tc.flag+" ") {
				t.Errorf("stderr %q does not name %s", stderr.String(), tc.flag)
			}
			if stdout.Len() > 0 {
				t.Errorf("a refused command printed on stdout: %q", stdout.String())
			}
			for _, p := range []string{dir, dir + ".nats"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("a refused command created %s (stat: %v)", p, err)
				}
			}
		})
	}
}
