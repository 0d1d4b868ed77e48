package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestReplicateLoadInterruptedBeforeDuration: an interrupt that ends a
// 'replicate --load --duration D' run before D prints no figures and
// exits 1 naming the interrupt (docs/cli.md, "Interrupts"): the figures
// were of a shorter run than asked for, and it printed them and exited 0.
// Without --duration an interrupt is how a run ends: its figures are the
// result (exit 0). The interrupt comes once the node has published a
// record (its status line says so), not after a time.
func TestReplicateLoadInterruptedBeforeDuration(t *testing.T) {
	published := regexp.MustCompile(`records_published=[1-9]`)
	for _, tc := range []struct {
		name     string
		duration string
		code     int
	}{
		{"with --duration", "10m", exitFailure},
		{"until interrupted", "0", exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncText
			exited := make(chan int, 1)
			args := []string{"replicate", "--dir", filepath.Join(t.TempDir(), "a"), "--load", "--batch", "10", "--committers", "1",
				"--pages", "16", "--duration", tc.duration, "--status-every", "100ms"} // the shortest --status-every
			go func() { exited <- run(ctx, args, &stdout, &stderr) }()
			for deadline := time.Now().Add(60 * time.Second); !published.MatchString(stdout.String()); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the node published nothing in 60 s:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
				}
			}
			cancel() // the interrupt
			var code int
			select {
			case code = <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("replicate still running 60 s after its interrupt:\n%s", stderr.String())
			}
			if code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
			}
			figures := strings.Contains(stdout.String(), "load: ")
			if tc.code == exitFailure {
				if figures {
					t.Errorf("an interrupted load printed figures:\n%s", stdout.String())
				}
				if !strings.Contains(stderr.String(), "load interrupted after ") || !strings.Contains(stderr.String(), "of --duration 10m0s") {
					t.Errorf("stderr does not say that the load was interrupted before its --duration:\n%s", stderr.String())
				}
			} else if !figures {
				t.Errorf("a load run until interrupted printed no figures:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
		})
	}
}
