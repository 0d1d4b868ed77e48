package replicate

import (
	"context"
	"testing"
	"time"
)

// TestNewNodeRemovesOperatorStreamLimits: limits an operator gave the
// stream (nats stream edit: MaxAge, MaxMsgs, MaxBytes, MaxMsgsPerSubject)
// are removed when a leader-capable node starts, and the node says which:
// they drop records no stored checkpoint may hold yet (a follower behind
// them cannot start), and the leader bounds the stream itself. Before,
// they were removed without a word, an operator's edit undone unseen.
func TestNewNodeRemovesOperatorStreamLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	sc := res.stream.CachedInfo().Config
	sc.MaxAge, sc.MaxMsgs, sc.MaxBytes, sc.MaxMsgsPerSubject = time.Hour, 1000, 1<<20, 500
	if _, err := res.js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "a", Dir: t.TempDir(), Conn: connect(t, c.URL()), Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	info, err := n.res.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := streamLimits(info.Config); got != "" {
		t.Fatalf("the stream's limits after NewNode: %s, want none", got)
	}
	want := "node a: removed the limits set outside MMSB on stream MMSB_LOG_t (MaxAge 1h0m0s, MaxMsgs 1000, MaxBytes 1048576, MaxMsgsPerSubject 500)"
	if logs.count(want) != 1 {
		t.Fatalf("no line %q", want)
	}
}
