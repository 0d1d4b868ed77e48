package replicate

import (
	"context"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// A stream emptied under a running bus (an operator purged it) holds no
// term to count from. A node that saw term T there must lead above T, not
// term 1 again: followers that applied T refuse an older term
// (ErrStaleTerm stops them), and a term-1 record restarting at LSN 1 within
// the stream's duplicate window carries the message ID of term 1's first
// record, which the stream takes for a duplicate of a record it no longer
// holds (the new leader's first commit fails as fenced).
func TestLeaderAfterEmptiedStreamKeepsTerm(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 2)
	if _, err := load(ctx, bus, pages, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	terms := streamTerms(t, a.res)
	oldTerm := terms[len(terms)-1]

	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	// The leader loses its lease; following again, its state is ahead of
	// the empty stream, so it is set aside and rebuilt (empty, no
	// checkpoint stored), and the node leads again.
	a.currentLease().pause()
	deadline := time.Now().Add(60 * time.Second)
	var bus2 *mmsb.Bus
	for bus2 == nil || bus2 == bus {
		if time.Now().After(deadline) {
			t.Fatal("the node did not lead again")
		}
		time.Sleep(20 * time.Millisecond)
		bus2 = a.Leader()
	}
	if _, err := bus2.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatalf("first commit of the leader after the stream was emptied: %v", err)
	}
	terms = streamTerms(t, a.res)
	if len(terms) == 0 || terms[len(terms)-1] <= oldTerm {
		t.Fatalf("stream terms after the stream was emptied %v, want above term %d", terms, oldTerm)
	}
}
