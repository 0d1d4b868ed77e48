package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestReplicationRefusesStandaloneBus: a --dir holding a bus that no
// replication node made (mmsb.Open, mmsb bench --dir) fails replicate,
// follow and serve --replicate with exit 1, naming the directory and
// saying it is not a replica of the stream, before anything starts:
// nothing on stdout, no DIR.nats, the bus as it was, nothing set aside.
// Before, the node took the directory, moved the user's bus to
// DIR.diverged-* and started an empty replica in its place.
func TestReplicationRefusesStandaloneBus(t *testing.T) {
	nats := "nats://127.0.0.1:1" // nothing listens: a run that gets past the check fails connecting
	tests := []struct {
		name string
		args func(dir string) []string
	}{
		{"replicate", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--duration", "2s", "--status-every", "0"}
		}},
		{"follow", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--status-every", "0"}
		}},
		{"serve", func(dir string) []string {
			return []string{"serve", "--replicate", "--dir", dir, "--addr", "127.0.0.1:0"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "bus")
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 64}}); err != nil {
				t.Fatal(err)
			}
			lsn := bus.LastLSN()
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			// A deadline ends a command that starts instead of refusing.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr strings.Builder
			code := run(ctx, tc.args(dir), &stdout, &stderr)
			if code != exitFailure {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitFailure, stdout.String(), stderr.String())
			}
			if want := dir + ` holds a bus that is not a replica of the stream "MMSB_LOG_mmsb"`; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
			}
			if stdout.Len() > 0 {
				t.Errorf("a failed command printed on stdout: %q", stdout.String())
			}
			ents, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != 1 {
				t.Errorf("beside the bus after the refusal: %d entries, want only the bus", len(ents))
			}
			bus, err = mmsb.Open(dir, nil)
			if err != nil {
				t.Fatalf("the refused bus does not open: %v", err)
			}
			defer func() { _ = bus.Close() }()
			if bus.LastLSN() != lsn {
				t.Errorf("the refused bus is at LSN %d, want %d", bus.LastLSN(), lsn)
			}
		})
	}
}
