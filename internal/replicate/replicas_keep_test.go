package replicate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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

// TestEnsureRaisesBucketReplicas: on three servers, an operator made the
// lease and checkpoint buckets with one replica each and a description
// of their own. A leader-capable node with Replicas 3 raises both to
// three replicas through their streams (KV_<bucket>, OBJ_<bucket>) and
// keeps the rest of their configuration.
func TestEnsureRaisesBucketReplicas(t *testing.T) {
	c := startTestCluster(t, 3)
	cfg, err := testConfig(3).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(connect(t, c.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kc := leaseBucketConfig(cfg)
	kc.Replicas, kc.Description = 1, "leases (the operator's)"
	if _, err := js.CreateKeyValue(ctx, kc); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.CheckpointBucket(), Storage: jetstream.FileStorage, Replicas: 1, Description: "checkpoints (the operator's)",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ensure(ctx, js, cfg, false); err != nil {
		t.Fatal(err)
	}
	for stream, desc := range map[string]string{
		"KV_" + cfg.LeaseBucket():       kc.Description,
		"OBJ_" + cfg.CheckpointBucket(): "checkpoints (the operator's)",
	} {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config; got.Replicas != 3 || got.Description != desc {
			t.Errorf("after a node's start with Replicas 3, the bucket stream %s has %d replicas (want 3) and description %q (want %q)",
				stream, got.Replicas, got.Description, desc)
		}
	}
}
