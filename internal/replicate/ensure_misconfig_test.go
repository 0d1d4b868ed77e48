package replicate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNewNodeJetStreamOff: NewNode against a NATS server without
// JetStream (a plain nats-server) fails at once with ErrConfig naming the
// server and how to enable JetStream. Before, it retried for 30 s saying
// nothing, then failed with "nats: no responders available for request".
func TestNewNodeJetStreamOff(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("the nats-server without JetStream did not accept clients")
	}
	for _, followOnly := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var lines atomic.Int32
		_, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "nojs", Dir: t.TempDir(), Conn: connect(t, s.ClientURL()), FollowOnly: followOnly,
			Logf: func(f string, a ...any) { lines.Add(1); t.Logf(f, a...) }})
		cancel()
		t.Logf("follow only %v: %v", followOnly, err)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "JetStream is not enabled") || !strings.Contains(err.Error(), "-js") || !strings.Contains(err.Error(), s.ClientURL()) {
			t.Fatalf("NewNode (follow only: %v) against a server without JetStream = %v, want ErrConfig naming %s and how to enable JetStream", followOnly, err, s.ClientURL())
		}
		if n := lines.Load(); n != 0 {
			t.Fatalf("NewNode (follow only: %v) logged %d retry line(s) before failing, want none", followOnly, n)
		}
	}
}

// TestNewNodeReplicasNotClustered: replicas 3 against one non-clustered
// server is ErrConfig at once (the server's err_code 10074). Before, it
// was retried for 30 s in silence.
func TestNewNodeReplicasNotClustered(t *testing.T) {
	c := startTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lines atomic.Int32
	_, err := NewNode(ctx, NodeConfig{Config: testConfig(3), ID: "r3", Dir: t.TempDir(), Conn: connect(t, c.URL()),
		Logf: func(f string, a ...any) { lines.Add(1); t.Logf(f, a...) }})
	t.Logf("%v", err)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "not clustered") || strings.Contains(err.Error(), c.token) {
		t.Fatalf("NewNode with replicas 3 against one server = %v, want ErrConfig saying the server is not clustered, without the token", err)
	}
	if n := lines.Load(); n != 0 {
		t.Fatalf("NewNode logged %d retry line(s) before failing, want none", n)
	}
}

// failStream fails the next fail stream lookups with err.
type failStream struct {
	jetstream.JetStream
	err  error
	fail atomic.Int32
}

func (j *failStream) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if j.fail.Add(-1) >= 0 {
		return nil, j.err
	}
	return j.JetStream.Stream(ctx, name)
}

// TestNewNodeLogsRetriedError: an error NewNode retries is logged when it
// first comes, once, not after the retries end. Before, nothing was
// logged: a node whose servers never mended was silent for 30 s.
func TestNewNodeLogsRetriedError(t *testing.T) {
	c := startTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	flaky := errors.New("flaky lookup 7f3a")
	var mu sync.Mutex
	var got []string
	_, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "retry", Dir: t.TempDir(), Conn: connect(t, c.URL()),
		Logf: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf(f, a...))
		},
		wrapJetStream: func(js jetstream.JetStream) jetstream.JetStream {
			w := &failStream{JetStream: js, err: flaky}
			w.fail.Store(3)
			return w
		}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	count := 0
	for _, l := range got {
		if strings.Contains(l, flaky.Error()) {
			count++
			if !strings.Contains(l, "retrying") {
				t.Errorf("retry line %q does not say it retries", l)
			}
		}
	}
	if count != 1 {
		t.Fatalf("NewNode retried %q 3 times and logged it %d time(s), want once: %q", flaky, count, got)
	}
}
