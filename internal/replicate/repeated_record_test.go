package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// TestFollowerStopsOnRepeatedRecord: a stream message after the
// follower's position whose LSN range the follower already applied (the
// stream repeats records: a publisher that ignored the fence) ends
// Follower.Run with ErrBadMessage naming the sequence and both LSNs, which
// stops the node: following again meets the same message. Before, it was
// the bus's ErrReplicaOrder ("duplicate"), which Node.Run took for a
// role that can start over: it reopened the bus every LeaseTTL/4 and met
// the message again, for ever.
func TestFollowerStopsOnRepeatedRecord(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, last func(at mmsb.LSN) mmsb.LSN
	}{
		{"the last record again", func(at mmsb.LSN) mmsb.LSN { return at }, func(at mmsb.LSN) mmsb.LSN { return at }},
		{"the first record again", func(mmsb.LSN) mmsb.LSN { return 1 }, func(mmsb.LSN) mmsb.LSN { return 1 }},
		{"overlapping the follower's LSN", func(at mmsb.LSN) mmsb.LSN { return at }, func(at mmsb.LSN) mmsb.LSN { return at + 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res, leader, _ := catchUpStream(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, applied, _, done := runFollower(t, ctx, res, &Metrics{})
			at := leader.LastLSN()
			waitRunApplied(t, applied, done, at)
			msg := nats.NewMsg(res.cfg.Subject())
			msg.Data = []byte("repeated")
			recordHeaders(msg.Header, 1, &mmsb.ReplicatedRecord{FirstLSN: tc.first(at), LastLSN: tc.last(at)})
			msg.Header.Del(nats.MsgIdHdr) // not a duplicate publish the stream would drop
			if _, err := res.js.PublishMsg(ctx, msg); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, ErrBadMessage) || !stopsNode(err) {
					t.Fatalf("Run after a repeated record: %v, want ErrBadMessage (the node stops)", err)
				}
				t.Log(err)
			case <-time.After(60 * time.Second):
				t.Fatal("Run still following 60 s after a repeated record")
			}
		})
	}
}
