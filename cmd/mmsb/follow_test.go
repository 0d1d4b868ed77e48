package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

func TestFollowAndReplicateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"follow", "--stream", "x", "--dir", dir},
		{"follow", "--nats", "nats://127.0.0.1:1", "--stream", "x"},
		{"follow", "--nats", "nats://127.0.0.1:1", "--dir", dir, "--lease-ttl", "1ms"},
		{"follow", "--nats", "nats://127.0.0.1:1", "--dir", dir, "--lease-ttl", "2h"},
		{"replicate", "--dir", dir, "--lease-ttl", "2562047h"},
		{"serve", "--replicate", "--dir", dir, "--addr", "127.0.0.1:0", "--lease-ttl", "2h"},
		{"replicate", "--dir", dir, "--batch", "0"},
		{"replicate", "bench", "--replicas", "2"},
	} {
		runCLI(t, args...).mustCode(t, exitUsage)
	}
}

func TestReplicateBenchHashesEqual(t *testing.T) {
	r := runCLI(t, "replicate", "bench", "--replicas", "1", "--duration", "1s", "--batch", "100", "--committers", "2", "--pages", "64", "--json").mustCode(t, exitOK)
	var got replBenchResult
	r.decodeJSON(t, &got)
	if !got.HashesEqual || got.Commits == 0 || got.FollowerLSN != got.LeaderLSN {
		t.Fatalf("bench result %+v", got)
	}
}

// TestFollowCommand runs 'mmsb follow' against a stream a leader node
// fills, until the follower's directory holds the leader's state.
func TestFollowCommand(t *testing.T) {
	c, err := replicate.StartCluster("clitest", []string{t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	nc, stop, _, err := replicate.Connect(c.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leader, err := replicate.NewNode(ctx, replicate.NodeConfig{Config: replicate.Config{Bus: "cli", LeaseTTL: time.Second}, ID: "leader", Dir: t.TempDir(), Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	lctx, stopLeader := context.WithCancel(ctx)
	ldone := make(chan error, 1)
	go func() { ldone <- leader.Run(lctx) }()
	defer func() {
		stopLeader()
		testutil.Recv(t, ldone, "the leader's Run did not return after its context ended")
	}()
	bus, err := leader.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[i%2], 0, []byte(fmt.Sprint(i)))}); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := bus.StateHash()
	dir := filepath.Join(t.TempDir(), "replica")
	fctx, stopFollow := context.WithTimeout(ctx, 3*time.Second)
	defer stopFollow()
	var out, errb strings.Builder
	code := run(fctx, []string{"follow", "--nats", c.URL(), "--stream", "cli", "--dir", dir, "--status-every", "100ms"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("follow exited %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("applied_lsn=%d", bus.LastLSN())) {
		t.Fatalf("follow never reported applied_lsn=%d:\n%s", bus.LastLSN(), out.String())
	}
	replica, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Close()
	if got, _ := replica.StateHash(); got != want {
		t.Fatalf("replica hash %#x, leader %#x", got, want)
	}
}

// TestReplicateEmbedded: 'mmsb replicate' with no --nats starts an
// embedded server beside DIR, leads, commits the demo load, and leaves a
// directory whose state a follower-mode open recovers.
func TestReplicateEmbedded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	r := runCLI(t, "replicate", "--dir", dir, "--load", "--duration", "3s", "--batch", "100", "--committers", "2", "--pages", "32", "--lease-ttl", "1s", "--status-every", "0").mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "embedded nats-server at nats://") || !strings.Contains(r.stdout, "load: ") {
		t.Fatalf("output:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "load: 0 commits") {
		t.Fatalf("the leader committed nothing:\n%s\n%s", r.stdout, r.stderr)
	}
	b, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.LastLSN() == 0 {
		t.Fatal("the directory holds no commits")
	}
}

// TestReplicationFlagsRefused: bad replication flag values are usage
// errors found before anything starts. Before, --replicas 0 became 1 and
// negative intervals and durations meant "never" or "forever" without a
// word, and serve dropped its replication flags when --replicate was
// missing (--follow-only then served a writable bus). Each run has a
// deadline so that a command that starts instead of refusing ends.
func TestReplicationFlagsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	nats := "nats://127.0.0.1:1" // nothing listens: a run that gets this far fails with exit 1
	for _, args := range [][]string{
		{"follow", "--nats", nats, "--dir", dir, "--replicas", "0"},
		{"follow", "--nats", nats, "--dir", dir, "--replicas", "-1"},
		{"follow", "--nats", nats, "--dir", dir, "--replicas", "6"},
		{"follow", "--nats", nats, "--dir", dir, "--verify-every", "-1"},
		{"follow", "--nats", nats, "--dir", dir, "--status-every", "-1s"},
		{"replicate", "--nats", nats, "--dir", dir, "--duration", "-1s"},
		{"replicate", "bench", "--duration", "-1s"},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--follow-only"},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--nats", nats},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--replicas", "3"},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--replicate", "--nats", nats, "--replicas", "0"},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--shutdown-timeout", "-1s"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var stdout, stderr strings.Builder
		code := run(ctx, args, &stdout, &stderr)
		cancel()
		if code != exitUsage {
			t.Errorf("%v: exit status %d, want %d (usage)\nstderr: %s", args, code, exitUsage, stderr.String())
		}
	}
}
