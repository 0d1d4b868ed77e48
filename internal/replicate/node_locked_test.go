package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestNodeOnALockedDirectoryStops: a node started on a directory another
// writer holds returns mmsb.ErrLocked from Run at once. It retried every
// LeaseTTL/4 until its context ended and then returned nil, so `mmsb
// replicate` (and `serve --replicate`) on a directory in use logged a line
// now and then and exited 0, having done nothing. The control is the same
// node once the other writer is gone: it leads.
func TestNodeOnALockedDirectoryStops(t *testing.T) {
	c := startTestCluster(t, 1)
	dir := t.TempDir()
	// A replica's directory (NewNode marked it) that a command holds.
	if err := saveMarker(dir, testConfig(1).StreamName()); err != nil {
		t.Fatal(err)
	}
	holder, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "locked", Dir: dir, Conn: connect(t, c.URL()), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Run(ctx); !errors.Is(err, mmsb.ErrLocked) {
		t.Fatalf("Run on a directory another writer holds = %v (context: %v), want mmsb.ErrLocked", err, ctx.Err())
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "free", Dir: dir})
	waitLeader(t, tn)
}
