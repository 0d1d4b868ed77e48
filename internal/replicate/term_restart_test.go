package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// A node remembers the highest term it saw across a restart: restarted
// after the stream was emptied (no record left to count terms from), it
// leads above the term it saw, not term 1 again. Term 1 again is what
// followers that applied the old term refuse (ErrStaleTerm stops them),
// and its first record reuses the message ID of term 1's first record,
// which the stream's duplicate window takes for a record it already holds.
func TestRestartedNodeLeadsAboveSeenTerm(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	cfg := testConfig(1)
	dir := filepath.Join(t.TempDir(), "a")
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	pages := createPages(t, bus, 2)
	if _, err := load(ctx, bus, pages, 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	terms := streamTerms(t, a.res)
	oldTerm := terms[len(terms)-1]
	a.stop()
	if err := a.res.stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}

	// The restarted node's state is ahead of the empty stream: it is set
	// aside and rebuilt (empty, no checkpoint stored), and the node leads.
	a2 := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	if got := a2.seenTerm(); got != oldTerm {
		t.Errorf("restarted node starts with term %d seen, want %d", got, oldTerm)
	}
	_, bus2 := waitLeader(t, a2)
	if _, err := bus2.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
		t.Fatalf("first commit of the restarted leader: %v", err)
	}
	terms = streamTerms(t, a2.res)
	if len(terms) == 0 || terms[len(terms)-1] <= oldTerm {
		t.Fatalf("stream terms after the restart %v, want above term %d", terms, oldTerm)
	}
}

// The term file: a missing one is term 0, one of another stream (deleted
// and made again: its terms start afresh) is ignored, and a damaged one
// stops the node (ErrTermFile) rather than let it forget the term.
func TestTermFile(t *testing.T) {
	dir := t.TempDir()
	if term, err := loadTerm(dir, "S@1"); term != 0 || err != nil {
		t.Fatalf("no term file: %d, %v; want 0, nil", term, err)
	}
	if err := saveTerm(dir, "S@1", 7); err != nil {
		t.Fatal(err)
	}
	if term, err := loadTerm(dir, "S@1"); term != 7 || err != nil {
		t.Fatalf("saved term 7: read %d, %v", term, err)
	}
	if term, err := loadTerm(dir, "S@2"); term != 0 || err != nil {
		t.Fatalf("term file of another stream: %d, %v; want 0, nil", term, err)
	}
	for _, bad := range []string{"", "S@1", "S@1 x", "S@1 0", " 7", "S@1 -3"} {
		if err := os.WriteFile(filepath.Join(dir, termFile), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if term, err := loadTerm(dir, "S@1"); !errors.Is(err, ErrTermFile) {
			t.Errorf("term file %q: %d, %v; want ErrTermFile", bad, term, err)
		}
	}
	// NewNode refuses to start on a damaged one.
	c := startTestCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "a", Dir: dir, Conn: connect(t, c.URL())})
	if !errors.Is(err, ErrTermFile) {
		t.Fatalf("NewNode on a damaged term file: %v, want ErrTermFile", err)
	}
}
