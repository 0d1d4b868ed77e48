package replicate

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"
)

// nextTerm refuses to go past the largest term instead of wrapping to 0.
func TestNextTerm(t *testing.T) {
	for _, tc := range []struct {
		term, want uint64
		err        error
	}{
		{0, 1, nil},
		{7, 8, nil},
		{math.MaxUint64 - 1, math.MaxUint64, nil},
		{math.MaxUint64, 0, ErrTermsExhausted},
	} {
		got, err := nextTerm(tc.term)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("nextTerm(%d) = %d, %v; want %d, %v", tc.term, got, err, tc.want, tc.err)
		}
	}
}

// A node that saw term 2^64-1 (a damaged or hostile header or term file)
// has no term left to lead: Run returns ErrTermsExhausted and the node
// never leads. Before, the term wrapped to 0: the node led term 0, below
// every term its followers applied, and its term file was left at the old
// term (0 is not above it).
func TestNodeStopsWhenNoTermIsLeft(t *testing.T) {
	c := startTestCluster(t, 1)
	dir := filepath.Join(t.TempDir(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "a", Dir: dir, CheckpointEvery: -1, Conn: connect(t, c.URL()), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.sawTerm(math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if !errors.Is(err, ErrTermsExhausted) {
				t.Fatalf("Run: %v, want ErrTermsExhausted", err)
			}
			if term, _ := n.LastLead(); term != 0 {
				t.Fatalf("the node led term %d", term)
			}
			if got, err := loadTerm(dir, n.streamID()); got != math.MaxUint64 || err != nil {
				t.Fatalf("term file after the refusal: %d, %v; want %d", got, err, uint64(math.MaxUint64))
			}
			return
		case <-tick.C:
			if n.Leader() != nil {
				term, _ := n.LastLead()
				cancel()
				<-done
				t.Fatalf("the node leads term %d after term %d", term, uint64(math.MaxUint64))
			}
		}
	}
}
