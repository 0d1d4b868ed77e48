package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicationSecondNodeOnSameDir: a second replicate or serve
// --replicate without --nats on the --dir of a running one fails with
// exit 1 naming the embedded server's store and the other process,
// before it starts anything: it started a second embedded nats-server on
// the JetStream files (DIR.nats) the first one's server was writing,
// printed that server's URL, and only then failed on the bus's lock.
func TestReplicationSecondNodeOnSameDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncText
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"replicate", "--dir", dir, "--status-every", "0"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Errorf("the first node still runs 60 s after its interrupt:\n%s", stderr.String())
		}
	}()
	waitText(t, &stdout, "embedded nats-server at ")
	for _, args := range [][]string{
		{"replicate", "--dir", dir, "--duration", "5s", "--status-every", "0"},
		{"serve", "--replicate", "--dir", dir, "--addr", "127.0.0.1:0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			// A deadline ends a second node that starts instead of failing.
			ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel2()
			var out, errb strings.Builder
			code := run(ctx2, args, &out, &errb)
			if code != exitFailure {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitFailure, out.String(), errb.String())
			}
			if out.Len() > 0 {
				t.Errorf("the second node printed on stdout (it started a server): %q", out.String())
			}
			for _, want := range []string{dir + ".nats", "another process runs its embedded nats-server there"} {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr does not name %q:\n%s", want, errb.String())
				}
			}
			if strings.Contains(errb.String(), "embedded nats-server\" url=") {
				t.Errorf("the second node started an embedded server:\n%s", errb.String())
			}
		})
	}
	// The first node's server is intact and it still runs.
	select {
	case code := <-exited:
		t.Fatalf("the first node exited (%d) while the second one was refused:\n%s", code, stderr.String())
	default:
	}
}
