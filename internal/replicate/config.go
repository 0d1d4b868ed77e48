// Package replicate replicates an MMSB bus through NATS JetStream: a leader
// publishes every committed batch record to a stream (one message per
// record, fenced by Nats-Expected-Last-Sequence), holds a lease in a key/value
// bucket, and stores checkpoints in an object store; followers consume the
// stream, apply each record through the bus's recovery code and check the
// leader's rolling state hash after each (docs/replication.md).
package replicate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb/internal/tlog"
)

// DefaultMaxRecordBytes is the largest record payload a message carries by
// default (8 MiB; a batch of 1,000 16-byte deltas is about 24 KiB). Larger
// batches are refused at commit with mmsb.ErrRecordTooLarge; they are never
// split, so one message is always one whole record.
const DefaultMaxRecordBytes = 8 << 20

// Config names the JetStream resources of one replicated bus and sizes them.
type Config struct {
	// Bus names the replicated bus: the stream is MMSB_LOG_<Bus>, the
	// subject mmsb.<Bus>.log, the lease bucket MMSB_LEASE_<Bus>, the
	// checkpoint bucket MMSB_CKPT_<Bus>. Letters, digits, '-' and '_'.
	Bus string
	// Replicas is the stream, bucket and object store replication factor:
	// 1 for a single server, 3 for a three-server cluster (default 1).
	Replicas int
	// MaxRecordBytes: the largest record payload (default
	// DefaultMaxRecordBytes). The server's max_payload must allow it.
	MaxRecordBytes int
	// LeaseTTL is the leader lease's time to live (default 3 s); the
	// leader renews it every LeaseTTL/4 and stops committing when a
	// renewal has not succeeded for LeaseTTL minus a safety margin.
	LeaseTTL time.Duration
	// AckTimeout bounds the wait for the stream's acknowledgement of one
	// publish (default 5 s); a timeout fails the leader.
	AckTimeout time.Duration
	// MaxInFlight is the number of publishes awaiting acknowledgement
	// (default 256): the pipeline depth that decides replicated throughput.
	MaxInFlight int
	// CheckpointsKept is the number of checkpoints kept in the object store
	// (default 2); the stream is trimmed below the oldest kept one.
	CheckpointsKept int
}

var busName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrConfig is returned for an invalid Config or NodeConfig: a bad bus
// name, a negative duration or count, a MaxRecordBytes beyond what one log
// record holds, a node without a connection or a directory.
var ErrConfig = errors.New("replicate: invalid configuration")

// CheckBusName refuses, with ErrConfig, a bus name Config refuses (it
// names the stream, MMSB_LOG_<NAME>, and the buckets). Commands check
// their flags with it before they connect or start a server.
func CheckBusName(name string) error {
	if !busName.MatchString(name) {
		return fmt.Errorf("%w: bus name %q (want 1-64 letters, digits, '-' or '_')", ErrConfig, name)
	}
	return nil
}

func (c Config) withDefaults() (Config, error) {
	if err := CheckBusName(c.Bus); err != nil {
		return c, err
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("%w: replicas %d (want 1..5)", ErrConfig, c.Replicas)
	}
	if c.MaxRecordBytes == 0 {
		c.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if c.MaxRecordBytes < 0 || c.MaxRecordBytes > tlog.MaxRecordBytes {
		return c, fmt.Errorf("%w: max record bytes %d (want 1..%d, the largest log record)", ErrConfig, c.MaxRecordBytes, tlog.MaxRecordBytes)
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 3 * time.Second
	}
	if c.LeaseTTL < 500*time.Millisecond {
		return c, fmt.Errorf("%w: lease TTL %v (want at least 500ms)", ErrConfig, c.LeaseTTL)
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.AckTimeout < 0 {
		return c, fmt.Errorf("%w: ack timeout %v (want a positive duration, or 0 for the default)", ErrConfig, c.AckTimeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.MaxInFlight < 0 {
		return c, fmt.Errorf("%w: max in flight %d (want a positive count, or 0 for the default)", ErrConfig, c.MaxInFlight)
	}
	if c.CheckpointsKept == 0 {
		c.CheckpointsKept = 2
	}
	if c.CheckpointsKept < 0 {
		return c, fmt.Errorf("%w: checkpoints kept %d (want a positive count, or 0 for the default)", ErrConfig, c.CheckpointsKept)
	}
	return c, nil
}

// StreamName is the log stream's name.
func (c Config) StreamName() string { return "MMSB_LOG_" + c.Bus }

// Subject is the subject records are published on.
func (c Config) Subject() string { return "mmsb." + c.Bus + ".log" }

// LeaseBucket is the key/value bucket holding the leader lease.
func (c Config) LeaseBucket() string { return "MMSB_LEASE_" + c.Bus }

// CheckpointBucket is the object store bucket holding checkpoints.
func (c Config) CheckpointBucket() string { return "MMSB_CKPT_" + c.Bus }

// call bounds one JetStream API request: without a deadline of its own a
// request waits for the caller's context, which may be long (a server
// without quorum does not answer).
func (r *resources) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.AckTimeout)
}

// resources are the JetStream handles of one replicated bus.
type resources struct {
	cfg    Config
	js     jetstream.JetStream
	stream jetstream.Stream
	lease  jetstream.KeyValue
	ckpts  jetstream.ObjectStore
}

// ensure creates (or opens) the stream, the lease bucket and the checkpoint
// bucket. The stream uses file storage and the replica count of cfg; the
// embedded servers sync every write (StartServer), and docs/replication.md
// gives the loss window of servers run with another sync_interval. A
// lease bucket that exists keeps its TTL: a node configured with another
// is ErrConfig, unless followOnly (it never leads), which takes the
// bucket's (resources.cfg.LeaseTTL).
func ensure(ctx context.Context, js jetstream.JetStream, cfg Config, followOnly bool) (*resources, error) {
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.StreamName(),
		Subjects:    []string{cfg.Subject()},
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		MaxMsgSize:  int32(cfg.MaxRecordBytes + 4<<10),
		Duplicates:  2 * time.Minute,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Description: "MMSB batch records of bus " + cfg.Bus + " (docs/replication.md)",
	})
	if err != nil {
		return nil, fmt.Errorf("replicate: stream %s: %w", cfg.StreamName(), err)
	}
	// Every node of a bus must agree on the lease's TTL: a node believes it
	// leads for LeaseTTL minus a margin after each renewal, and the key
	// lives for the bucket's TTL. Updating the bucket to this node's TTL
	// (as CreateOrUpdateKeyValue would) would shorten the key's life under
	// a leader that started with a longer TTL, which would then be fenced
	// over and over by nodes that see the key expire.
	if kv, err := js.KeyValue(ctx, cfg.LeaseBucket()); err == nil {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
		}
		switch {
		case st.TTL() == cfg.LeaseTTL:
		case followOnly:
			// A node that never leads takes the bus's TTL: its own
			// would only pace its retries.
			cfg.LeaseTTL = st.TTL()
		default:
			return nil, fmt.Errorf("%w: lease TTL %v, but the lease bucket %s has %v: every node of a bus needs the same LeaseTTL (to change it, stop every node and delete the bucket)", ErrConfig, cfg.LeaseTTL, cfg.LeaseBucket(), st.TTL())
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: cfg.LeaseBucket(), TTL: cfg.LeaseTTL, Storage: jetstream.FileStorage, Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: cfg.CheckpointBucket(), Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", cfg.CheckpointBucket(), err)
	}
	return &resources{cfg: cfg, js: js, stream: st, lease: kv, ckpts: obs}, nil
}
