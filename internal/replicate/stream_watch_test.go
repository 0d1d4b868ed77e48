package replicate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestIdleLeaderNoticesStreamDeleted: a leader that commits nothing
// learns within a bounded time that an operator deleted its stream, or
// deleted it and made it again: its role ends (Leader() nil) and LastLead
// says so (ErrStreamUnavailable naming the stream). Before, it learnt it
// only at its next commit: Leader() returned a bus, and LastLead no
// error, for as long as nothing was committed.
func TestIdleLeaderNoticesStreamDeleted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remake bool
		want   string
	}{
		{"deleted", false, "which was deleted (an operator, or another program)"},
		// "which was deleted and made again", or, should a look fall
		// between the deletion and the making, "which was deleted (…".
		{"made again", true, "which was deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := startTestCluster(t, 1)
			cfg := testConfig(1)
			cfg.LeaseTTL = MinLeaseTTL // a look at the stream every 500 ms
			a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", CheckpointEvery: -1})
			waitLeader(t, a)
			sc := a.res.stream.CachedInfo().Config
			if err := a.res.js.DeleteStream(ctx, a.res.cfg.StreamName()); err != nil {
				t.Fatal(err)
			}
			if tc.remake {
				if _, err := a.res.js.CreateStream(ctx, sc); err != nil {
					t.Fatal(err)
				}
			}
			// Captured when seen: a node whose stream was made again
			// may lead the new one soon after, clearing LastLead.
			var err error
			waitFor(t, "the role ended", func() bool {
				_, err = a.LastLead()
				return err != nil
			})
			if !errors.Is(err, ErrStreamUnavailable) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), a.res.cfg.StreamName()) {
				t.Fatalf("LastLead = %v, want ErrStreamUnavailable naming the stream and saying %q", err, tc.want)
			}
			if !tc.remake && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Fatalf("LastLead = %v, want it to wrap jetstream.ErrStreamNotFound", err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for a.Leader() != nil && !tc.remake {
				if time.Now().After(deadline) {
					t.Fatal("node a still leads after its stream was deleted")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
