package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCommitWithoutAckSaysOutcomeUnknown: a commit that Ready let through
// (the connection down for less than readyGrace, set long here) is logged
// and applied, then finds no acknowledgement: it fails the bus, the only
// safe answer once it is logged (docs/replication.md, "A commit logged
// but not acknowledged"), and its error says that its outcome is unknown,
// not that it was not stored: nats.go keeps the publish it buffered and
// sends it if it reconnects, and a stream that lost only the answer holds
// it. A caller told "not stored" commits the batch again, and a stream
// that holds the first applies it twice. A fenced record is said not
// stored (TestNotStoredNamesFence). Control: "… not stored: no
// acknowledgement within 2s …, want its outcome said unknown".
func TestCommitWithoutAckSaysOutcomeUnknown(t *testing.T) {
	grace := readyGrace
	readyGrace = time.Hour // read by newPublisher, when the node leads
	t.Cleanup(func() { readyGrace = grace })
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	cfg.AckTimeout = time.Second
	// Long enough that the role outlives the outage (the lease stays
	// valid 20 s past its last renewal, one every 7.5 s), short enough
	// that the node takes it soon: a node first tries the lease TTL/4
	// after it starts, and a TTL of 2 min spent 30 s of this test there.
	cfg.LeaseTTL = 30 * time.Second
	nc := connect(t, c.URL())
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Conn: nc})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 1)

	down := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED)
	defer nc.RemoveStatusListener(down)
	c.Stop(0)
	testutil.Recv(t, down, "the connection did not go down after its server stopped")
	_, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(pages[0], 0, []byte("taken, then no ack"))})
	if !errors.Is(err, mmsb.ErrReplication) || !errors.Is(err, mmsb.ErrFailed) {
		t.Fatalf("commit logged without an acknowledgement: %v, want %v failing the bus (%v)", err, mmsb.ErrReplication, mmsb.ErrFailed)
	}
	if msg := err.Error(); !strings.Contains(msg, "outcome unknown") || strings.Contains(msg, "not stored") {
		t.Fatalf("commit logged without an acknowledgement: %v, want its outcome said unknown", err)
	}
	t.Log(err)
	// The server back, so that the node's stop need not wait out its
	// reads of a stream gone.
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
}

// TestNotStoredNamesFence: a record the stream refused for another
// leader's is not stored, and said so; any other failure leaves its
// outcome unknown.
func TestNotStoredNamesFence(t *testing.T) {
	fenced := notStored(7, ErrFenced)
	if !errors.Is(fenced, ErrFenced) || !strings.Contains(fenced.Error(), "LSN 7 not stored") {
		t.Fatalf("fenced: %v", fenced)
	}
	other := notStored(7, context.DeadlineExceeded)
	if !errors.Is(other, context.DeadlineExceeded) || !strings.Contains(other.Error(), "LSN 7 not acknowledged, its outcome unknown") {
		t.Fatalf("no ack: %v", other)
	}
}
