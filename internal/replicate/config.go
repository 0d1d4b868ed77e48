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
	"strings"
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
	// 1 for a single server, 3 for a three-server cluster (default 1). A
	// node does not lower an existing stream's: fewer is ErrConfig, and a
	// FollowOnly node takes the stream's.
	Replicas int
	// MaxRecordBytes: the largest record payload (default
	// DefaultMaxRecordBytes, or less where the server's max_payload is
	// smaller: max_payload minus 64 KiB for the headers). The server's
	// max_payload must allow it: NewNode refuses a larger value with
	// ErrConfig.
	MaxRecordBytes int
	// LeaseTTL is the leader lease's time to live (default 3 s); the
	// leader renews it every LeaseTTL/4 and stops committing when a
	// renewal has not succeeded for LeaseTTL minus a safety margin.
	LeaseTTL time.Duration
	// AckTimeout bounds the wait for the stream's acknowledgement of one
	// publish (default 5 s, at most 24 h); a timeout fails the leader.
	AckTimeout time.Duration
	// MaxInFlight is the number of publishes awaiting acknowledgement
	// (default 256, at most 65,536): the pipeline depth that decides
	// replicated throughput.
	MaxInFlight int
	// CheckpointsKept is the number of checkpoints kept in the object store
	// (default 2); the stream is trimmed below the oldest kept one.
	CheckpointsKept int
}

// Upper bounds of Config values. The leader allocates its acknowledgement
// queue, MaxInFlight entries, up front when it takes the lease: 1<<40 ended
// the process (fatal error: out of memory, which no caller can recover).
// Bootstraps and catch-ups wait 10 × AckTimeout, which past 29 years
// overflowed to a negative duration: every such wait failed at once.
const (
	maxInFlight   = 1 << 16
	maxAckTimeout = 24 * time.Hour
)

// Bounds of Config.LeaseTTL. A node tries the lease every LeaseTTL/4 and
// a failover takes about LeaseTTL: with no ceiling, a TTL of years (the
// largest a duration holds is 292) was taken, and the node waited that
// long before its first try, silently, leaving the bus without a leader.
// An hour is far beyond any useful lease; the floor keeps renewals
// (every LeaseTTL/4) apart from the acknowledgement round trip.
const (
	MinLeaseTTL = 500 * time.Millisecond
	MaxLeaseTTL = time.Hour
)

// checkLeaseTTL refuses a lease TTL outside [MinLeaseTTL, MaxLeaseTTL]
// (what names where it comes from) with ErrConfig.
func checkLeaseTTL(what string, ttl time.Duration) error {
	if ttl < MinLeaseTTL || ttl > MaxLeaseTTL {
		return fmt.Errorf("%w: %s %v (want %v to %v)", ErrConfig, what, ttl, MinLeaseTTL, MaxLeaseTTL)
	}
	return nil
}

var busName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrConfig is returned for an invalid Config or NodeConfig: a bad bus
// name, a negative duration or count, a MaxRecordBytes beyond what one log
// record holds, a MaxInFlight or AckTimeout over its limit, a node
// without a connection or a directory, bus options a replica cannot be
// opened with (NodeConfig.BusOptions), a NATS server or route URL that
// does not parse, a server list that names no server (Connect).
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
	if err := checkLeaseTTL("lease TTL", c.LeaseTTL); err != nil {
		return c, err
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.AckTimeout < 0 || c.AckTimeout > maxAckTimeout {
		return c, fmt.Errorf("%w: ack timeout %v (want a positive duration up to %v, or 0 for the default)", ErrConfig, c.AckTimeout, maxAckTimeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > maxInFlight {
		return c, fmt.Errorf("%w: max in flight %d (want 1..%d, or 0 for the default)", ErrConfig, c.MaxInFlight, maxInFlight)
	}
	if c.CheckpointsKept == 0 {
		c.CheckpointsKept = 2
	}
	if c.CheckpointsKept < 0 {
		return c, fmt.Errorf("%w: checkpoints kept %d (want a positive count, or 0 for the default)", ErrConfig, c.CheckpointsKept)
	}
	return c, nil
}

// payloadHeadroom is the part of the server's max_payload that a record
// message keeps for its headers: a record payload is at most max_payload
// minus this.
const payloadHeadroom = 64 << 10

// fitMaxPayload fits c.MaxRecordBytes to the server's max_payload
// (maxPayload; 0 when unknown). A record message larger than max_payload
// is refused by the client after the leader logged the record: the commit
// failed the bus (ErrFailed, not ErrRecordTooLarge before logging), the
// leader stepped down and set its directory aside as diverged, and a
// default nats-server (max_payload 1 MiB) did that to every commit over
// 1 MiB. The default is lowered to fit; a value set explicitly (explicit)
// that does not fit is ErrConfig.
func fitMaxPayload(c Config, explicit bool, maxPayload int64) (Config, error) {
	if maxPayload <= 0 {
		return c, nil
	}
	fit := maxPayload - payloadHeadroom
	if int64(c.MaxRecordBytes) <= fit {
		return c, nil
	}
	if explicit || fit < 1 {
		return c, fmt.Errorf("%w: max record bytes %d, but the NATS server's max_payload is %d: a record message needs its payload plus %d bytes of headroom (raise max_payload or lower MaxRecordBytes)", ErrConfig, c.MaxRecordBytes, maxPayload, payloadHeadroom)
	}
	c.MaxRecordBytes = int(fit)
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
	// limitsRemoved names the limits set outside MMSB (streamLimits)
	// that ensure removed from the stream it found ("": none).
	limitsRemoved string
	// streamMade: ensure made the stream, which did not exist (a
	// leader-capable node's NewNode; NewNode says what the checkpoint
	// bucket holds from before it).
	streamMade bool
	// trimVerdicts: the stored checkpoints trim found the stream does
	// not continue for good, judged once per stream (trim).
	// (nil: none kept, each trim judges every one; ensure makes it).
	trimVerdicts *trimVerdicts
}

// streamLimits names the limits of c by which a stream drops records
// (MaxAge, MaxMsgs, MaxBytes, MaxMsgsPerSubject), "" when it has none:
// MMSB sets none. Each may drop records that no stored checkpoint holds
// yet, and a follower behind them cannot start (ErrNeedBootstrap): the
// leader bounds the stream itself, trimming it below the oldest kept
// checkpoint.
func streamLimits(c jetstream.StreamConfig) string {
	var limits []string
	if c.MaxAge > 0 {
		limits = append(limits, fmt.Sprintf("MaxAge %v", c.MaxAge))
	}
	if c.MaxMsgs > 0 {
		limits = append(limits, fmt.Sprintf("MaxMsgs %d", c.MaxMsgs))
	}
	if c.MaxBytes > 0 {
		limits = append(limits, fmt.Sprintf("MaxBytes %d", c.MaxBytes))
	}
	if c.MaxMsgsPerSubject > 0 {
		limits = append(limits, fmt.Sprintf("MaxMsgsPerSubject %d", c.MaxMsgsPerSubject))
	}
	return strings.Join(limits, ", ")
}

// missing names the resources a follow-only node's ensure did not find
// ("" when it found all three).
func (r *resources) missing() string {
	var m []string
	if r.stream == nil {
		m = append(m, "stream "+r.cfg.StreamName())
	}
	if r.lease == nil {
		m = append(m, "lease bucket "+r.cfg.LeaseBucket())
	}
	if r.ckpts == nil {
		m = append(m, "checkpoint bucket "+r.cfg.CheckpointBucket())
	}
	return strings.Join(m, ", ")
}

// leaseBucketConfig is the lease bucket's configuration for cfg.
func leaseBucketConfig(cfg Config) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: cfg.LeaseBucket(), TTL: cfg.LeaseTTL, Storage: jetstream.FileStorage, Replicas: cfg.Replicas, History: 1,
	}
}

// ensure creates (or opens) the stream, the lease bucket and the checkpoint
// bucket. The stream uses file storage and the replica count of cfg; the
// embedded servers sync every write (StartServer), and docs/replication.md
// gives the loss window of servers run with another sync_interval. A
// lease bucket that exists keeps its TTL: a node configured with another
// is ErrConfig, unless followOnly (it never leads), which takes the
// bucket's (resources.cfg.LeaseTTL). A stream that exists keeps a larger
// message limit and replica count than this node's: fewer replicas is
// ErrConfig, unless followOnly, which takes the stream's.
//
// A followOnly node creates and changes nothing: it looks the three up,
// checks those it finds, and leaves the handles of those it does not find
// nil (resources.missing names them; Node.Run waits for them). Creating
// them made a mistyped --stream or --bus a new, empty bus that the
// follower followed at LSN 0 for ever, looking healthy; and a follower
// with a larger MaxRecordBytes raised an existing stream's message limit.
func ensure(ctx context.Context, js jetstream.JetStream, cfg Config, followOnly bool) (*resources, error) {
	// A stream that exists keeps a larger message limit: a node with a
	// smaller MaxRecordBytes (a read replica, a node connected to a server
	// of smaller max_payload) lowered it, and the leader's next record
	// over the new limit was refused ("message size exceeds maximum
	// allowed"): its bus failed and it stepped down.
	//
	// Nor does a node lower the replica count: a node started without
	// --replicas 3 turned the stream, the lease and the checkpoints of a
	// three-server bus into single copies, and said nothing. A node that
	// never leads takes the stream's count; one that may lead with fewer
	// is ErrConfig, as for the lease TTL below. Raising it is allowed.
	maxMsgSize := int32(cfg.MaxRecordBytes + 4<<10)
	var st jetstream.Stream // the stream a followOnly node found, or the one made
	removed := ""           // the limits the update below removes
	made := false           // the stream did not exist
	streamConfig := func() jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        cfg.StreamName(),
			Subjects:    []string{cfg.Subject()},
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			MaxMsgSize:  maxMsgSize,
			Duplicates:  2 * time.Minute,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			Description: "MMSB batch records of bus " + cfg.Bus + " (docs/replication.md)",
		}
	}
	for look := 1; ; look++ {
		old, err := js.Stream(ctx, cfg.StreamName())
		if err == nil {
			oc := old.CachedInfo().Config
			removed = streamLimits(oc)
			if cur := oc.MaxMsgSize; cur <= 0 || cur > maxMsgSize {
				maxMsgSize = cur // unlimited, or larger than this node's
			}
			if cur := max(oc.Replicas, 1); cur > cfg.Replicas {
				if !followOnly {
					return nil, fmt.Errorf("%w: replicas %d, but the stream %s has %d: a node would make its copies fewer (every node of a bus needs the same Replicas)", ErrConfig, cfg.Replicas, cfg.StreamName(), cur)
				}
				cfg.Replicas = cur
			}
			if followOnly {
				st = old
			}
			break
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("replicate: stream %s: %w", cfg.StreamName(), err)
		}
		if followOnly {
			break
		}
		// Not found: made with CreateStream, which refuses a stream
		// that exists with another configuration. Then the answer was
		// spurious (a server restarting, a cluster electing a leader),
		// or another node made it since: it is looked up again, and
		// its limits and replica count kept as above. Before, the
		// whole configuration was set over it (CreateOrUpdateStream):
		// one such answer lowered an existing stream's replica count
		// and message limit, which the checks above refuse, and said
		// the stream had been made.
		st, err = js.CreateStream(ctx, streamConfig())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) && look < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: stream %s: %w", cfg.StreamName(), err)
		}
		// The server answers a create of a stream that exists with the
		// same configuration (every node's, as a rule) as it answers
		// one that made it: a stream that ever held a record was
		// there. Taken as made, one spurious "not found" had NewNode
		// say it made the stream, holding the bus's history, and
		// advise deleting the checkpoint bucket for a fresh history
		// (logBucketBeforeStream).
		made = st.CachedInfo().State.LastSeq == 0
		break
	}
	if !followOnly && !made {
		// A leader-capable node sets the stream's configuration whole:
		// limits an operator set (nats stream edit) are removed, and
		// NewNode logs which (resources.limitsRemoved).
		var err error
		st, err = js.CreateOrUpdateStream(ctx, streamConfig())
		if err != nil {
			return nil, fmt.Errorf("replicate: stream %s: %w", cfg.StreamName(), err)
		}
	}
	// Every node of a bus must agree on the lease's TTL: a node believes it
	// leads for LeaseTTL minus a margin after each renewal, and the key
	// lives for the bucket's TTL. Updating the bucket to this node's TTL
	// (as CreateOrUpdateKeyValue would) would shorten the key's life under
	// a leader that started with a longer TTL, which would then be fenced
	// over and over by nodes that see the key expire.
	var kv jetstream.KeyValue // the bucket found, or the one made
	kvMade := false           // the lease bucket did not exist
	for look := 1; ; look++ {
		found, err := js.KeyValue(ctx, cfg.LeaseBucket())
		if err == nil {
			kv = found
			st, err := found.Status(ctx)
			if err != nil {
				return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
			}
			switch {
			case st.TTL() == cfg.LeaseTTL:
			case followOnly:
				// Unless it is one no node could lead with: a bucket
				// made outside MMSB with no TTL (0) stopped the node
				// with a panic (a ticker of LeaseTTL/4).
				if err := checkLeaseTTL("the TTL of the lease bucket "+cfg.LeaseBucket()+":", st.TTL()); err != nil {
					return nil, err
				}
				// A node that never leads takes the bus's TTL: its own
				// would only pace its retries.
				cfg.LeaseTTL = st.TTL()
			default:
				return nil, fmt.Errorf("%w: lease TTL %v, but the lease bucket %s has %v: every node of a bus needs the same LeaseTTL (to change it, stop every node and delete the bucket)", ErrConfig, cfg.LeaseTTL, cfg.LeaseBucket(), st.TTL())
			}
			break
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
		}
		if followOnly {
			break
		}
		// Not found: made with a create that refuses a bucket that
		// exists with another configuration, as the stream above.
		// Before, one spurious "bucket not found" set this node's TTL
		// over the bucket's, which the check above refuses.
		kv, err = js.CreateKeyValue(ctx, leaseBucketConfig(cfg))
		if errors.Is(err, jetstream.ErrBucketExists) && look < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
		}
		kvMade = true
		break
	}
	if followOnly {
		obs, err := js.ObjectStore(ctx, cfg.CheckpointBucket())
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			obs, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", cfg.CheckpointBucket(), err)
		}
		return &resources{cfg: cfg, js: js, stream: st, lease: withConn(kv, js.Conn()), ckpts: obs, trimVerdicts: &trimVerdicts{}}, nil
	}
	if !kvMade {
		// A lease bucket that exists keeps its configuration (its TTL
		// is checked above), but for a replica count below cfg's,
		// which is raised as the stream's is. Until 2026-12-07 every
		// leader-capable node's start set its own configuration over
		// it (CreateOrUpdateKeyValue): an operator's settings were
		// undone, and a replica count set above the node's lowered
		// (TestEnsureKeepsLeaseBucketConfig).
		if err := raiseReplicas(ctx, js, "KV_"+cfg.LeaseBucket(), cfg.Replicas); err != nil {
			return nil, fmt.Errorf("replicate: lease bucket %s: %w", cfg.LeaseBucket(), err)
		}
	}
	obs, err := ensureCheckpointBucket(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	return &resources{cfg: cfg, js: js, stream: st, lease: withConn(kv, js.Conn()), ckpts: obs, limitsRemoved: removed, streamMade: made, trimVerdicts: &trimVerdicts{}}, nil
}

// ensureCheckpointBucket opens the checkpoint bucket, or makes it when it
// does not exist, as ensure does the stream and the lease bucket: a
// bucket that exists keeps its configuration (an operator's description,
// limits, compression or placement), except a replica count below cfg's,
// which is raised (as the stream's is); a bucket the first look does not
// find is made with a create that refuses one that exists with another
// configuration, and when it does exist after all (the "not found" was
// spurious: a server restarting, a cluster electing a leader; or another
// node made it meanwhile) it is looked up again, up to 3 looks. Until
// 2026-12-07 every leader-capable node's start set its own configuration
// over the bucket (CreateOrUpdateObjectStore): an operator's settings
// were undone, and a bucket given more replicas than the stream was
// lowered to the node's count (TestEnsureKeepsCheckpointBucketConfig).
func ensureCheckpointBucket(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.ObjectStore, error) {
	name := cfg.CheckpointBucket()
	for look := 1; ; look++ {
		obs, err := js.ObjectStore(ctx, name)
		if err == nil {
			st, err := obs.Status(ctx)
			if err != nil {
				return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", name, err)
			}
			if st.Replicas() >= cfg.Replicas {
				return obs, nil
			}
			// Raised through the bucket's stream, whose configuration
			// is kept whole but for the replica count.
			// (An object store is the stream OBJ_<bucket>.) The
			// handle stays valid: it names the bucket.
			if err := raiseReplicas(ctx, js, "OBJ_"+name, cfg.Replicas); err != nil {
				return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", name, err)
			}
			return obs, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", name, err)
		}
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: name, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) && look < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: checkpoint bucket %s: %w", name, err)
		}
		return obs, nil
	}
}

// raiseReplicas raises the replica count of stream (the one behind a
// bucket: KV_<bucket>, OBJ_<bucket>) to want when it has fewer, keeping
// the rest of its configuration as it is; with as many or more it
// changes nothing.
func raiseReplicas(ctx context.Context, js jetstream.JetStream, stream string, want int) error {
	bs, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	sc := bs.CachedInfo().Config
	have := max(sc.Replicas, 1) // 0 is one
	if have >= want {
		return nil
	}
	sc.Replicas = want
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("raise the replicas of its stream %s from %d to %d: %w", stream, have, want, err)
	}
	return nil
}
