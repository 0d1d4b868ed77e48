package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicationDirNotADirectory: a --dir that is a file fails replicate,
// follow and serve --replicate with a usage error (exit 2) naming --dir
// and "not a directory", before anything starts: nothing on stdout, no DIR.nats,
// the file as it was. The node found it only once connected: replicate
// and serve without --nats had started an embedded nats-server, made
// DIR.nats, printed its URL (replicate, on stdout) and then failed with
// "replicate: read DIR/replicate-term: open DIR/replicate-term: not a
// directory".
func TestReplicationDirNotADirectory(t *testing.T) {
	nats := "nats://127.0.0.1:1" // nothing listens: a run that gets past the check fails connecting
	tests := []struct {
		name string
		args func(dir string) []string
	}{
		{"replicate", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--duration", "2s", "--status-every", "0"}
		}},
		{"replicate load", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--load", "--duration", "2s", "--status-every", "0"}
		}},
		{"follow", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--status-every", "0"}
		}},
		{"serve", func(dir string) []string {
			return []string{"serve", "--replicate", "--dir", dir, "--addr", "127.0.0.1:0"}
		}},
		{"serve nats", func(dir string) []string {
			return []string{"serve", "--replicate", "--nats", nats, "--dir", dir, "--addr", "127.0.0.1:0"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			if err := os.WriteFile(dir, []byte("not a bus"), 0o600); err != nil {
				t.Fatal(err)
			}
			// A deadline ends a command that starts instead of refusing.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr strings.Builder
			code := run(ctx, tc.args(dir), &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout.String(), stderr.String())
			}
			for _, want := range []string{"--dir " + dir + ": ", "not a directory"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
				}
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed command printed on stdout: %q", stdout.String())
			}
			if _, err := os.Stat(dir + ".nats"); !os.IsNotExist(err) {
				t.Errorf("a failed command created %s.nats (stat: %v)", dir, err)
			}
			if b, err := os.ReadFile(dir); err != nil || string(b) != "not a bus" {
				t.Errorf("the file --dir named was changed: %q, %v", b, err)
			}
		})
	}
}
