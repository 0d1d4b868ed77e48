package replicate

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestLeftCheckpointsLineIsCapped: the trim's line about the stored
// checkpoints it leaves (another history's) names the first leftLogLSNs of
// them and counts the rest. Before, it listed every LSN: a bucket holding
// thousands of another history's checkpoints made a line as long, once a
// minute per node.
func TestLeftCheckpointsLineIsCapped(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 1)
	if _, err := load(ctx, bus, pages, 1, 1, 1); err != nil {
		t.Fatal(err)
	}
	const n = leftLogLSNs + 5
	for i := range n {
		name := ckptObjectName(mmsb.LSN(1_000_000 + i))
		if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: name}, bytes.NewReader([]byte("another history's"))); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	if err := trim(ctx, a.res, func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 {
		t.Fatalf("trim logged %d lines, want 1: %q", len(lines), lines)
	}
	want := fmt.Sprintf("holds %d stored checkpoint(s) that the stream %s does not continue (LSN 1000000, 1000001, ", n, a.res.cfg.StreamName())
	last := fmt.Sprintf("%d and 5 more:", 1_000_000+leftLogLSNs-1)
	if !strings.Contains(lines[0], want) || !strings.Contains(lines[0], last) || strings.Contains(lines[0], fmt.Sprint(1_000_000+leftLogLSNs)) {
		t.Fatalf("trim said %q; want it to name the first %d LSNs (%q … %q) and count the rest", lines[0], leftLogLSNs, want, last)
	}
}
