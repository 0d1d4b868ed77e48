package replicate

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestNodeDoesNotLowerReplicas: on a bus whose stream has three replicas,
// a node configured with one is refused with ErrConfig if it may lead, and
// a read replica (FollowOnly) takes the stream's count; either way the
// stream, the lease bucket and the checkpoint bucket keep three copies.
// Before, the node's CreateOrUpdate calls scaled all three down to one
// copy, silently.
func TestNodeDoesNotLowerReplicas(t *testing.T) {
	c := startTestCluster(t, 3)
	a := startNode(t, c, NodeConfig{Config: testConfig(3), ID: "a"})
	waitLeader(t, a)
	one := testConfig(1)
	for _, tc := range []struct {
		name       string
		followOnly bool
		wantErr    error
	}{
		{"a node that may lead", false, ErrConfig},
		{"a read replica", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n, err := NewNode(ctx, NodeConfig{Config: one, ID: "b", Dir: t.TempDir(), Conn: connect(t, c.URL()), FollowOnly: tc.followOnly})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("NewNode with Replicas 1 on a stream of 3: %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("NewNode: %v", err)
			} else if n.res.cfg.Replicas != 3 {
				t.Fatalf("the read replica's Replicas is %d, want the stream's 3", n.res.cfg.Replicas)
			}
			info, err := a.res.stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Config.Replicas != 3 {
				t.Fatalf("the stream has %d replicas, want 3", info.Config.Replicas)
			}
			kv, err := a.res.js.Stream(ctx, "KV_"+one.LeaseBucket()) // the bucket's stream
			if err != nil {
				t.Fatal(err)
			}
			if r := kv.CachedInfo().Config.Replicas; r != 3 {
				t.Fatalf("the lease bucket has %d replicas, want 3", r)
			}
			obs, err := a.res.ckpts.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if obs.Replicas() != 3 {
				t.Fatalf("the checkpoint bucket has %d replicas, want 3", obs.Replicas())
			}
		})
	}
}
