package replicate

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// NodeConfig configures a replicated node.
type NodeConfig struct {
	Config
	// ID names this node in the lease (default: host name and process ID).
	ID string
	// Dir is the bus directory (required).
	Dir string
	// Conn is a connection to the NATS cluster (required).
	Conn *nats.Conn
	// BusOptions are the options the bus is opened with (nil: defaults).
	// Sync, Replicator and Follower are set by the node. DisableLog is
	// ErrConfig (replication needs the log), and so is an FS that does
	// not show Dir as the operating system does (vfs.NewMem): the node
	// bootstraps, marks and sets aside Dir through the operating system.
	BusOptions *mmsb.Options
	// CheckpointEvery: the leader archives a checkpoint to the object store
	// and trims the stream after this many published records (default
	// 1000; negative: never).
	CheckpointEvery int
	// FollowOnly: never take the lease (a read replica).
	FollowOnly bool
	// VerifyEvery: followers recompute the rolling hash from every page
	// after this many records (0: never; negative: ErrConfig).
	VerifyEvery int
	// OnRole, when set, is called with the bus each time the node becomes
	// leader (leader true) or follower, and with a nil bus when that role
	// ends, before its bus is closed (a server stops serving it then).
	OnRole func(bus *mmsb.Bus, leader bool)
	// OnApplied, when set, is called by the follower after each record it
	// applies, with the record's last LSN (lag measurements).
	OnApplied func(last mmsb.LSN)
	// noLeaseCheck (tests only) makes the leader ignore its lease after
	// taking it: a leader that was paused right after its last lease check,
	// so that only the stream's fence can stop it.
	noLeaseCheck bool
	// beforeBootstrap (tests only), when set, is called by openFollower
	// with the directory's lock held, after it found the directory
	// empty and before it bootstraps into it: a node paused there holds
	// what a second node on the same directory must not pass.
	beforeBootstrap func()
	// beforePosition (tests only), when set, is called by openFollower
	// after it opened a directory it has just rebuilt from the stored
	// checkpoint at LSN from, before the position check: the window
	// in which an operator may purge the stream under the bootstrap.
	beforePosition func(from mmsb.LSN)
	// beforeChangeDir (tests only), when set, is called by changeDir
	// before it takes the directory's lock: another writer may use the
	// directory then.
	beforeChangeDir func()
	// setAsideStep (tests only), when set, is called before each change
	// setAside and finishSetAside make to the directories, naming it; an
	// error stops them there, as a crash would.
	setAsideStep func(step string) error
	// wrapJetStream (tests only), when set, wraps the node's JetStream
	// handle, through which every stream, bucket and object store call
	// goes: a test answers some of them as a server might.
	wrapJetStream func(jetstream.JetStream) jetstream.JetStream
	// Logf, when set, receives one line per role change and per error that
	// ends a role (an error that ends role after role with the same text is
	// logged once, then at most once a minute with the count of the others).
	Logf func(format string, args ...any)
	// BusFlag names the setting that chose the bus, for the line a
	// follow-only node logs while its stream does not exist ("is BusFlag
	// right?"): a command sets its flag ("--stream", "--replicate-bus").
	// Empty: the line asks whether the stream's name is right.
	BusFlag string
}

// Node runs one replica of a bus: a follower that takes the lease when it is
// free, catches up to the stream's end, and leads (commits, publishes,
// archives checkpoints) until it loses the lease or is fenced; it then
// steps down and follows again, rebuilding its directory from the stored
// checkpoint when its log went beyond the stream.
type Node struct {
	cfg     NodeConfig
	res     *resources
	Metrics Metrics

	mu      sync.Mutex
	bus     *mmsb.Bus
	leader  bool
	changed chan struct{}
	lease   *Lease // while leading
	term    uint64 // the term of the last leader role
	leadErr error  // what ended the last leader role (nil while it lasts)

	// termSeen is the highest leader term this node has applied, read in
	// the stream or led. A leader takes the term after the stream's last
	// record's, but a stream emptied by a purge has no last record: this
	// keeps a node that saw term T from leading term 1 again, below what
	// followers applied and reusing term 1's message IDs. It is kept in
	// DIR/replicate-term (termFile) before it is acted on: a node
	// restarted after the purge still leads above T.
	termMu   sync.Mutex
	termSeen uint64

	// waiting is what a follow-only node waits for (awaitResources;
	// WaitingFor), "" otherwise.
	waitMu  sync.Mutex
	waiting string

	// roleEnds counts the roles Run saw end (tests count attempts).
	roleEnds atomic.Int64

	// skipLog rate-limits skipLogf's lines (Run's goroutine only).
	skipLog repeatLog
	// leftLog rate-limits trim's line naming the stored checkpoints it
	// leaves (serve's, on Run's goroutine only). The node's, not a
	// role's: one made at each role logged the same line again at once
	// whenever the node led again (TestLeftCheckpointsLoggedOncePerNode).
	leftLog repeatLog
	// bucketLog rate-limits serve's line saying that the checkpoint
	// bucket is gone (serve's, on Run's goroutine only).
	bucketLog repeatLog
}

// WaitingFor returns what a follow-only node waits for before it can
// follow, comma-separated, the stream first when it is missing ("stream
// MMSB_LOG_x, lease bucket NAME, checkpoint bucket NAME": no leader has
// created it; "lease bucket NAME": only buckets are missing); "" when it
// waits for nothing.
func (n *Node) WaitingFor() string {
	n.waitMu.Lock()
	defer n.waitMu.Unlock()
	return n.waiting
}

func (n *Node) setWaiting(what string) {
	n.waitMu.Lock()
	n.waiting = what
	n.waitMu.Unlock()
}

// NewNode connects a node to its stream, creating the JetStream resources
// if needed. A FollowOnly node creates none: it checks those that exist,
// and Run waits for the others (Node.Run).
func NewNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Conn == nil:
		return nil, fmt.Errorf("%w: no NATS connection (NodeConfig.Conn)", ErrConfig)
	case cfg.Dir == "":
		// An empty Dir would make the node read, and set aside, wal/ and
		// checkpoints/ of the working directory.
		return nil, fmt.Errorf("%w: no bus directory (NodeConfig.Dir)", ErrConfig)
	case cfg.VerifyEvery < 0:
		return nil, fmt.Errorf("%w: verify every %d records (want 0 for never, or a positive count)", ErrConfig, cfg.VerifyEvery)
	case cfg.BusOptions != nil && cfg.BusOptions.DisableLog:
		// Every open of the bus refused it: Run logged the refusal and
		// tried again every LeaseTTL/4, for ever.
		return nil, fmt.Errorf("%w: BusOptions.DisableLog: a replicated bus needs its log", ErrConfig)
	}
	if c, err = fitMaxPayload(c, cfg.MaxRecordBytes != 0, cfg.Conn.MaxPayload()); err != nil {
		return nil, err
	}
	cfg.Config = c
	if cfg.ID == "" {
		h, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = 1000
	}
	js, err := jetstream.New(cfg.Conn,
		jetstream.WithPublishAsyncMaxPending(2*c.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(c.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	if cfg.wrapJetStream != nil {
		js = cfg.wrapJetStream(js)
	}
	// A cluster that is still forming refuses R3 placement ("no suitable
	// peers") or has no meta leader yet: retry for a while. A server
	// that cannot hold the bus (ensureConfigError) is not retried: until
	// 2026-12-08 it was, for 30 s in silence, and the node then failed
	// with the server's words ("no responders available for request").
	// Every error retried is logged the first time it comes.
	var res *resources
	const ensureRetry = 30 * time.Second
	deadline := time.Now().Add(ensureRetry)
	retried := map[string]bool{}
	for {
		rctx, cancel := context.WithTimeout(ctx, c.AckTimeout)
		res, err = ensure(rctx, js, c, cfg.FollowOnly)
		cancel()
		if err != nil {
			err = ensureConfigError(err, cfg.Conn, c.Replicas)
		}
		if err == nil || errors.Is(err, ErrConfig) || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		if msg := err.Error(); !retried[msg] && len(retried) < 16 {
			retried[msg] = true
			if cfg.Logf != nil {
				cfg.Logf("node %s: %v; retrying for up to %v (%s)", cfg.ID, err, ensureRetry, ensureRetryMeaning(err))
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	cfg.LeaseTTL = res.cfg.LeaseTTL // a follow-only node takes the bus's
	n := &Node{cfg: cfg, res: res, changed: make(chan struct{}), skipLog: repeatLog{every: roleEndedLogEvery}, leftLog: repeatLog{every: roleEndedLogEvery}, bucketLog: repeatLog{every: roleEndedLogEvery}}
	if res.stream == nil {
		// A follow-only node whose stream does not exist yet: the term
		// file is checked now (a damaged one is refused here, as for
		// every node) and read for the stream Run finds (its ID holds
		// the creation time).
		_, err = loadTerm(cfg.Dir, "")
	} else {
		n.termSeen, err = loadTerm(cfg.Dir, n.streamID())
	}
	if err != nil {
		return nil, err
	}
	// Marked before Run bootstraps or follows anything: a directory a
	// node filled is known as a replica at every later start.
	if err := claimDir(cfg.Dir, res.cfg.StreamName()); err != nil {
		return nil, err
	}
	if err := checkBusFS(cfg.BusOptions, cfg.Dir); err != nil {
		return nil, err
	}
	if res.limitsRemoved != "" {
		n.logf("node %s: removed the limits set outside MMSB on stream %s (%s): they drop records that no stored checkpoint may hold yet, and a follower behind them cannot start; the leader bounds the stream itself (CheckpointEvery, CheckpointsKept; docs/replication.md)",
			cfg.ID, res.cfg.StreamName(), res.limitsRemoved)
	}
	if res.streamMade {
		n.logBucketBeforeStream(ctx)
	}
	n.logSetAside()
	return n, nil
}

// ensureConfigError returns err, from ensure, as ErrConfig when no retry
// can mend it: the server conn is connected to says it has no JetStream
// and nothing answered the JetStream API ("no responders"), or the
// server refuses replicas > 1 because it is not clustered (err_code
// 10074). A cluster still electing its meta leader is retried: its
// servers say they have JetStream.
func ensureConfigError(err error, conn *nats.Conn, replicas int) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeReplicasNotClustered {
		return fmt.Errorf("%w: replicas %d, but the NATS server at %s is not clustered (%w): use --replicas 1 (NodeConfig Replicas), or a cluster of at least %d servers", ErrConfig, replicas, redactURLs(conn.ConnectedUrl()), err, replicas)
	}
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		if on, _ := conn.ConnectedServerJetStream(); !on && conn.IsConnected() {
			return fmt.Errorf("%w: JetStream is not enabled on the NATS server at %s (%w): start it with nats-server -js, or give its configuration a jetstream {} block", ErrConfig, redactURLs(conn.ConnectedUrl()), err)
		}
	}
	return err
}

// jsErrCodeReplicasNotClustered is the JetStream API's err_code for
// "replicas > 1 not supported in non-clustered mode".
const jsErrCodeReplicasNotClustered = 10074

// ensureRetryMeaning says what an error NewNode retries may mean.
func ensureRetryMeaning(err error) string {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		return "nothing answered the JetStream API: a cluster still electing its meta leader, or JetStream not enabled on the servers holding this account"
	}
	return "a cluster still forming, or electing a leader, refuses requests for a while"
}

// logBucketBeforeStream says, when NewNode made the stream and the
// checkpoint bucket already holds checkpoints, that the new stream
// continues the newest of them: the bucket, not the stream, carries the
// history across a stream deleted and made again, and nothing in either
// tells an operator's fresh start from a lost stream (docs/replication.md,
// "Checkpoints of another history"). A listing that fails says nothing:
// the line is advice, and Run lists them again.
func (n *Node) logBucketBeforeStream(ctx context.Context) {
	lsns, err := n.res.checkpointObjects(ctx)
	if err != nil || len(lsns) == 0 {
		return
	}
	n.logf("node %s: made stream %s, which did not exist, beside checkpoint bucket %s, which holds %d checkpoint(s) from before it, the newest at LSN %d: the new stream continues from that one (a node's state is set aside unless it is that checkpoint); to start a fresh history instead, stop every node and delete the bucket with the stream (docs/replication.md)",
		n.cfg.ID, n.res.cfg.StreamName(), n.res.cfg.CheckpointBucket(), len(lsns), lsns[len(lsns)-1])
}

// checkBusFS refuses bus options whose FS does not show dir as the
// operating system does: the node writes the marker, the term file and a
// bootstrap's checkpoint with package os, so the bus must read them there
// (a wrapper of vfs.Default does). With an in-memory FS the bus never saw
// the downloaded checkpoint: it opened empty, was behind the stream and
// was rebuilt, for ever, one cycle every LeaseTTL/4. The marker, which
// claimDir has just made sure of, is the file to look for.
func checkBusFS(o *mmsb.Options, dir string) error {
	if o == nil || o.FS == nil {
		return nil
	}
	if !o.FS.Exists(o.FS.Join(dir, markerFile)) {
		return fmt.Errorf("%w: BusOptions.FS does not show %s, which the node wrote to the operating system's file system: the bus's FS must be that directory's (nil, vfs.Default or a wrapper of it)", ErrConfig, filepath.Join(dir, markerFile))
	}
	return nil
}

// checkDirBus refuses a directory that holds a bus and whose term file
// says it followed or led another bus's stream (stream: this node's).
// Such a directory (a mistyped --stream or --bus) was "not a prefix" of
// this bus's stream: it was set aside and rebuilt as a replica of the
// other bus, with one log line to say so.
func checkDirBus(dir, stream string) error {
	path := filepath.Join(dir, termFile)
	b, err := os.ReadFile(path)
	if err != nil || !hasState(dir) {
		return nil // no term file: loadTerm reported what matters
	}
	id, _, _ := strings.Cut(string(b), " ")
	name, _, _ := strings.Cut(id, "@")
	if name == stream {
		return nil
	}
	return fmt.Errorf("%w: %s holds a replica of the stream %q (%s), not of %q: name that bus, or use another directory",
		ErrConfig, dir, name, path, stream)
}

// streamID names the stream a term file belongs to: its name and creation
// time. A stream deleted and made again starts its terms afresh, and a term
// seen in the old one must not fence the new one's.
func (n *Node) streamID() string {
	id := n.res.cfg.StreamName()
	if info := n.res.stream.CachedInfo(); info != nil {
		id += "@" + strconv.FormatInt(info.Created.UnixNano(), 10)
	}
	return id
}

// sawTerm raises termSeen to term and, when that raises it, writes it to
// the term file first: a term is acted on (led, or applied) only once a
// restart would remember it.
func (n *Node) sawTerm(term uint64) error {
	n.termMu.Lock()
	defer n.termMu.Unlock()
	if term <= n.termSeen {
		return nil
	}
	if err := saveTerm(n.cfg.Dir, n.streamID(), term); err != nil {
		return err
	}
	n.termSeen = term
	return nil
}

// seenTerm returns termSeen.
func (n *Node) seenTerm() uint64 {
	n.termMu.Lock()
	defer n.termMu.Unlock()
	return n.termSeen
}

// Leader returns the bus while this node leads (nil otherwise). Commits
// go to it; it is closed when the node steps down (ErrClosed then).
func (n *Node) Leader() *mmsb.Bus {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.leader {
		return nil
	}
	return n.bus
}

// ID returns the node's ID (NodeConfig.ID, or its default).
func (n *Node) ID() string { return n.cfg.ID }

// LastLead returns the term of this node's last leader role (0: it never
// led) and the error that ended that role: nil while it lasts, or when the
// context passed to Run ended it; ErrLeaseLost (naming the lease and the
// term) when the lease was lost, ErrFenced when another leader published.
// It is set before the role's bus is closed, so a caller whose commits
// failed because the role ended finds the reason here once Leader no
// longer returns that bus.
func (n *Node) LastLead() (term uint64, ended error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.term, n.leadErr
}

// LeaseRenewalsFailing returns, while the node leads, when the renewals
// of its lease that have failed in a row began, and the zero time while
// the last one was stored or no role has led yet (after a role ended,
// what its lease last found). It costs no request:
// the lease's own renewals (every LeaseTTL/4) find it. A renewal fails
// when the lease bucket, replicated as the stream is, cannot store a
// write: a cluster without its quorum (two of three servers down), which
// cannot store the leader's records either, though its connection to
// the server left stays up. Until 2026-12-07 nothing said so: the
// leader's /readyz answered ok until the lease lapsed
// (TestServeReplicateLeaderReadyzNoQuorum).
func (n *Node) LeaseRenewalsFailing() time.Time {
	if l := n.currentLease(); l != nil {
		return l.renewalsFailing()
	}
	return time.Time{}
}

// currentLease returns the lease while leading (tests pause it).
func (n *Node) currentLease() *Lease {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lease
}

// Bus returns the node's current bus (leader or follower), for reads.
func (n *Node) Bus() *mmsb.Bus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.bus
}

// WaitLeader waits until this node leads and returns its bus.
func (n *Node) WaitLeader(ctx context.Context) (*mmsb.Bus, error) {
	for {
		n.mu.Lock()
		b, l, ch := n.bus, n.leader, n.changed
		n.mu.Unlock()
		if l {
			return b, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf(format, args...)
	}
}

// prefixLogf is logf with the line starting "node ID: ".
func (n *Node) prefixLogf(format string, args ...any) {
	n.logf("node %s: "+format, append([]any{n.cfg.ID}, args...)...)
}

// skipLogf is prefixLogf for the lines of a bootstrap that skips a
// damaged stored checkpoint: the same line again (the same checkpoint
// skipped at every cycle, until the leader stores another) is logged at
// most every roleEndedLogEvery, as Run's "role ended" lines are.
func (n *Node) skipLogf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if log, note := n.skipLog.next(line, time.Now()); log {
		n.prefixLogf("%s%s", line, note)
	}
}

func (n *Node) setRole(bus *mmsb.Bus, leader bool) {
	if bus != nil {
		role := "follower"
		if leader {
			role = "leader"
		}
		n.logf("node %s: %s at LSN %d", n.cfg.ID, role, bus.LastLSN())
	}
	n.mu.Lock()
	if n.leader != leader {
		n.Metrics.LeaderChanges.Add(1)
	}
	had := n.bus != nil
	n.bus, n.leader = bus, leader
	if leader {
		n.Metrics.Leader.Store(1)
		// The leader writes the stream: it lags nothing, and no
		// follower spell refreshes the value any more.
		n.Metrics.LagLSN.Store(0)
		n.Metrics.LagUnknown.Store(false)
	} else {
		n.Metrics.Leader.Store(0)
	}
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
	if n.cfg.OnRole != nil && (bus != nil || had) {
		n.cfg.OnRole(bus, leader)
	}
}

func (n *Node) busOptions() mmsb.Options {
	var o mmsb.Options
	if n.cfg.BusOptions != nil {
		o = *n.cfg.BusOptions
	}
	o.Replicator, o.Follower = nil, false
	if o.Sync == mmsb.SyncReplicated {
		o.Sync = mmsb.SyncGroup
	}
	return o
}

// openFollower opens the bus as a follower positioned in the stream,
// rebuilding the directory from the stored checkpoint when it is empty,
// behind the stream's trimmed start, or diverged.
//
// The directory's lock (the bus's DIR/LOCK) is held while it is looked at
// and changed: from the check for state through the bootstrap, and while
// a directory is emptied or set aside. Taken only by mmsb.Open, two nodes
// started at once on one empty directory both found it empty and both
// downloaded the checkpoint into the same temporary file (each removing
// the other's part first), and the one that lost the race to Open stopped
// only after that. Now the second is refused (mmsb.ErrLocked) before it
// changes anything. The lock is let go just before Open takes it again
// (a flock: a second one in this process would be refused too); a node
// that takes it in between finds the bootstrap done, and whichever of the
// two then opens second is refused.
func (n *Node) openFollower(ctx context.Context) (*mmsb.Bus, *Follower, error) {
	// The stored checkpoints this call downloaded whole (bootstrapFrom's
	// frame and trailer checks passed) that the bus's open then refused:
	// the next attempt bootstraps from an older one the stream continues.
	// The loader, not a second verifier, has the last word on a
	// checkpoint. Kept for this call only: the leader may store a sound
	// checkpoint under the same name later.
	var unloadable []mmsb.LSN
	// The stored checkpoints this call bootstrapped from that the stream
	// does not continue (position: ErrDiverged): the stream's records do
	// not end at the checkpoint's LSN, or their state hash there is not
	// the checkpoint's. Such a checkpoint belongs to another history
	// than the stream's (see "Checkpoints of another history" in
	// docs/replication.md); the next attempt tries an older one, or,
	// with none left, an empty bus (the stream may hold its history
	// from LSN 1). Before, the node emptied the directory, ended the
	// role and downloaded the same checkpoint at every cycle, for ever.
	var foreign []mmsb.LSN
	for attempt := 0; ; attempt++ {
		rebuilt, from := false, mmsb.LSN(0)
		lk, err := n.lockDir()
		if err != nil {
			return nil, nil, err
		}
		// A set-aside that a crash interrupted is finished first
		// (finishSetAside): the bus is then whole, in DIR or aside.
		if err := n.finishSetAside(); err != nil {
			_ = lk.Close() // a lock: nothing written to lose
			return nil, nil, err
		}
		// What is left of a bus whose files were lost in part
		// (lostBusFiles: a log-mode file without the log it names,
		// checkpoints without their log) is set aside, as a directory
		// the stream does not continue is, never deleted, and the node
		// rebuilds from the stream and its stored checkpoints, which
		// hold what a follower applied. A leader's commits that the
		// stream lacks went with the lost files; the set-aside
		// directory and the log line say where and when, for an
		// operator who restores them from a backup. Open refuses such
		// a directory (mmsb.ErrCorruption) unless BusOptions.Repair
		// accepts the loss: then it is opened, as asked. Until
		// 2026-12-07, with no checkpoint in it, it was taken as empty:
		// with no stored checkpoint every cycle failed, for ever, and
		// with one the download beside the stale log-mode file was
		// refused as a removed log and the checkpoint blamed; with a
		// checkpoint, every cycle failed, for ever.
		if lost, err := lostBusFiles(n.cfg.Dir); !n.busOptions().Repair && (err != nil || lost != nil) {
			if err == nil {
				err = n.setAside("its bus's files were lost", lost)
			}
			if err != nil {
				_ = lk.Close() // a lock: nothing written to lose
				return nil, nil, err
			}
		}
		if !hasState(n.cfg.Dir) {
			if n.cfg.beforeBootstrap != nil {
				n.cfg.beforeBootstrap()
			}
			bctx, cancel := context.WithTimeout(ctx, 10*n.res.cfg.AckTimeout)
			reach, fromStart, err := n.res.reachesStream(bctx)
			if err == nil && len(unloadable)+len(foreign) > 0 {
				reach, err = withoutUnloadable(reach, unloadable, foreign)
			}
			lsn := mmsb.LSN(0)
			if err == nil {
				lsn, err = bootstrapFrom(bctx, n.res, n.cfg.Dir, reach, n.skipLogf)
			}
			cancel()
			if fromStart && errors.Is(err, ErrNeedBootstrap) {
				// Every stored checkpoint the stream continues is
				// damaged, or the bus refused it, but the stream holds
				// its records from LSN 1: an empty bus follows it
				// from there, checking each record's hash. Before, the
				// role ended here at every cycle until the leader
				// stored a new checkpoint: one junk object under a
				// checkpoint's name kept a new follower of an idle
				// leader (or of one storing none) at LSN 0 for ever.
				n.skipLogf("bootstrap: %v; the stream holds its records from LSN 1: following it from there, as an empty bus", err)
				lsn, err = 0, nil
			}
			if err != nil {
				_ = lk.Close() // a lock: nothing written to lose
				return nil, nil, err
			}
			rebuilt, from = true, lsn
		}
		_ = lk.Close() // a lock: nothing written to lose
		o := n.busOptions()
		o.Follower = true
		bus, err := mmsb.Open(n.cfg.Dir, &o)
		if err != nil {
			if rebuilt && from > 0 && errors.Is(err, mmsb.ErrCorruption) {
				// The directory holds only the stored checkpoint just
				// downloaded (whole: its digest matched), which does
				// not load: the object is damaged, or not a
				// checkpoint. Kept, the directory counted as a bus and
				// every later cycle failed to open it, for ever, even
				// once the leader had stored a sound newer checkpoint.
				// Emptied, the next cycle bootstraps again.
				what := fmt.Errorf("replicate: the stored checkpoint at LSN %d (object %s in %s) does not load: %w",
					from, ckptObjectName(from), n.res.cfg.CheckpointBucket(), err)
				if err := n.emptyRebuilt(from, what); err != nil {
					return nil, nil, err
				}
				// Before, the role ended here and the next cycle
				// downloaded the same checkpoint again: a follower
				// stuck at LSN 0 until the leader stored a newer one,
				// though an older kept checkpoint loaded.
				unloadable = append(unloadable, from)
				n.skipLogf("bootstrap: the stored checkpoint at LSN %d (object %s in %s) does not load; emptied %s to bootstrap from an older one the stream continues: %v",
					from, ckptObjectName(from), n.res.cfg.CheckpointBucket(), n.cfg.Dir, err)
				continue
			}
			return nil, nil, err
		}
		f := newFollower(bus, n.res, &n.Metrics)
		f.VerifyEvery, f.onApplied, f.onTerm = n.cfg.VerifyEvery, n.cfg.OnApplied, n.sawTerm
		f.logf = n.prefixLogf
		if rebuilt && from > 0 && bus.LastLSN() == from {
			// Possibly an older stored checkpoint than the newest (the
			// newest damaged): position takes it on an empty stream only
			// while no stored checkpoint is newer.
			f.bootstrapped = from
		}
		if rebuilt && n.cfg.beforePosition != nil {
			n.cfg.beforePosition(from)
		}
		seq, err := f.position(ctx)
		if err == nil {
			f.seq = seq
			return bus, f, nil
		}
		_ = bus.Close()
		if rebuilt && from > 0 && errors.Is(err, ErrDiverged) {
			what := fmt.Errorf("replicate: the stream does not continue the stored checkpoint at LSN %d (object %s in %s): it belongs to another history: %w",
				from, ckptObjectName(from), n.res.cfg.CheckpointBucket(), err)
			if err := n.emptyRebuilt(from, what); err != nil {
				return nil, nil, err
			}
			foreign = append(foreign, from)
			n.skipLogf("bootstrap: skipped %v; emptied %s to bootstrap from an older stored checkpoint, or from the stream's first record", what, n.cfg.Dir)
			continue
		}
		if rebuilt && from == 0 && len(foreign) > 0 {
			err = fmt.Errorf("%w (after skipping the stored checkpoints at LSN %s: the stream does not continue them)", err, joinLSNs(foreign))
		}
		rebuild := errors.Is(err, ErrDiverged) || errors.Is(err, ErrNeedBootstrap)
		if !rebuild || !rebuilt && attempt > 0 {
			return nil, nil, err
		}
		// The directory is emptied or set aside under its lock again: a
		// writer that opened it since the Close above keeps its files.
		if rebuilt {
			// A directory just rebuilt from the stored checkpoint
			// holds nothing of its own: it is emptied, not set
			// aside, so that the next cycle bootstraps again. Set
			// aside, every cycle left one more copy of the
			// checkpoint beside the directory (16 in 15 s with a
			// 3 s lease) while the stream's head was beyond the
			// newest checkpoint.
			if _, rerr := n.clearRebuilt(from, err); rerr != nil {
				return nil, nil, rerr
			}
			return nil, nil, err
		}
		if err := n.changeDir(func() error { return n.setAside("local state is not a prefix of the stream", err) }); err != nil {
			return nil, nil, err
		}
	}
}

// withoutUnloadable returns reach (stored checkpoints the stream
// continues, newest first) without those at the LSNs in unloadable (each
// downloaded whole, then refused by the bus's open) and in foreign (each
// one the stream turned out not to continue). When that leaves none and
// one was foreign, it returns none: the bus starts empty, and the
// position check says whether the stream holds its history from LSN 1.
// When it leaves none otherwise the error, ErrNeedBootstrap, names them:
// the leader must store a new checkpoint.
func withoutUnloadable(reach, unloadable, foreign []mmsb.LSN) ([]mmsb.LSN, error) {
	var left []mmsb.LSN
	for _, l := range reach {
		if !slices.Contains(unloadable, l) && !slices.Contains(foreign, l) {
			left = append(left, l)
		}
	}
	if len(left) == 0 && len(reach) > 0 && len(foreign) == 0 {
		return nil, fmt.Errorf("%w: no stored checkpoint that the stream continues loads (the bus's open refused the one at LSN %s): the leader must store a new one",
			ErrNeedBootstrap, joinLSNs(unloadable))
	}
	return left, nil
}

// joinLSNs returns lsns in decimal, comma-separated.
func joinLSNs(lsns []mmsb.LSN) string {
	names := make([]string, len(lsns))
	for i, l := range lsns {
		names[i] = strconv.FormatUint(uint64(l), 10)
	}
	return strings.Join(names, ", ")
}

// clearRebuilt empties the directory that this cycle rebuilt from the
// stored checkpoint at LSN from (0: none stored) so that the next cycle
// bootstraps again, or sets it aside (setAside, logging why) when it now
// holds state besides that checkpoint, reporting which it did. It looks
// under the directory's lock: that lock was let go before Open and after
// Close, and "rebuilt" was decided before either, so a writer that took
// the directory in between (another node, a command) may have committed
// records there. Emptied on the strength of the earlier look, those were
// lost.
func (n *Node) clearRebuilt(from mmsb.LSN, why error) (emptied bool, err error) {
	err = n.changeDir(func() error {
		keep := ""
		if from > 0 {
			keep = ckptFileName(from)
		}
		if !hasStateBesides(n.cfg.Dir, keep) {
			emptied = true
			return removeBusFiles(n.cfg.Dir)
		}
		return n.setAside("it holds more than the stored checkpoint it was rebuilt from (another writer used it meanwhile)", why)
	})
	return emptied, err
}

// emptyRebuilt is clearRebuilt for a directory rebuilt from the stored
// checkpoint at LSN from that cannot be used (what says why): nil once it
// is emptied, for the same cycle to bootstrap again; otherwise the error
// that ends the role (what, and that the directory was set aside, or why
// it could not be).
func (n *Node) emptyRebuilt(from mmsb.LSN, what error) error {
	emptied, err := n.clearRebuilt(from, what)
	if err != nil {
		return err
	}
	if !emptied {
		return fmt.Errorf("%w; %s held more than that checkpoint: set aside to bootstrap again", what, n.cfg.Dir)
	}
	return nil
}

// lockDir takes the directory's lock, the one its bus takes (DIR/LOCK):
// mmsb.ErrLocked, naming the directory, while another writer holds it.
func (n *Node) lockDir() (io.Closer, error) {
	fs := vfs.Default
	if o := n.cfg.BusOptions; o != nil && o.FS != nil {
		fs = o.FS
	}
	// Made as Open makes it: a directory removed under a running node
	// is made again, not refused for a missing LOCK's parent.
	if err := vfs.MkdirAllAndSync(fs, n.cfg.Dir); err != nil {
		return nil, fmt.Errorf("replicate: directory %s: %w", n.cfg.Dir, err)
	}
	lk, err := fs.Lock(fs.Join(n.cfg.Dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("replicate: directory %s: %w", n.cfg.Dir, err)
	}
	return lk, nil
}

// changeDir runs change with the directory's lock held (lockDir).
func (n *Node) changeDir(change func() error) error {
	if n.cfg.beforeChangeDir != nil {
		n.cfg.beforeChangeDir()
	}
	lk, err := n.lockDir()
	if err != nil {
		return err
	}
	defer func() { _ = lk.Close() }() // a lock: nothing written to lose
	return change()
}

// busDirs are the subdirectories of a bus directory that hold its state.
var busDirs = []string{"wal", "checkpoints", "shared"}

// clearOrder is the order in which removeBusFiles removes busDirs:
// checkpoints/ before wal/, each removal synced before the next.
var clearOrder = []string{"checkpoints", "shared", "wal"}

// removeBusFiles removes the bus files of a directory rebuilt from the
// stored checkpoint that the stream does not continue (nothing in it is
// not in the object store).
//
// checkpoints/ goes first: clearRebuilt removes only a directory whose
// wal/ holds no record, so a crash after it leaves segments without
// records, which are no bus state (hasState), and the next cycle
// bootstraps over them. wal/ first (until 2026-12-07) left the
// downloaded checkpoint and the log-mode file without wal/, which Open
// refuses as a removed log: the node failed at every cycle, for ever
// (TestInterruptedClearBootstrapsAgain).
func removeBusFiles(dir string) error {
	for _, sub := range clearOrder {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("replicate: clear rebuilt %s: %w", dir, err)
		}
		if err := syncFile(dir); err != nil {
			return err
		}
	}
	return nil
}

// setAside moves the bus files of a directory whose state the stream
// cannot continue (wal/, checkpoints/, shared/) into a sibling directory
// DIR.diverged-<unix ns>, never deleting them: they may hold the only copy
// of records that were logged but not replicated. Other files (an embedded
// nats-server's storage) stay. what says why it is set aside and why is
// the error that found it (the position check's), logged with the move.
//
// It is crash-safe: the files are moved one directory at a time into
// DIR.diverged-<unix ns>.part, and that is renamed to its final name only
// once it holds them all (the moves synced first), so a final name always
// holds a whole bus. A crash (or a failed move) midway leaves the .part
// directory, which finishSetAside, at the directory's next use, removes
// when nothing was moved into it yet (the bus is whole in DIR) and
// otherwise fills with what is left in DIR of what it held when the
// set-aside began (setAsideManifest: never a directory made or changed
// there since) and renames (the bus is whole aside, and DIR is rebuilt).
// Until 2026-12-07 the files were moved straight into the final name: a
// crash between two moves split the bus between DIR.diverged-* (wal/) and
// DIR (checkpoints/), which was then set aside on its own as lost files,
// and an operator had to merge the two by hand
// (TestSetAsideCrashAtEveryStep).
func (n *Node) setAside(what string, why error) error {
	// Cleaned: with "DIR/" the files were set aside inside DIR itself
	// (DIR/.diverged-<ns>), and the sync below was DIR's, not its
	// parent's.
	dir, err := asideBase(n.cfg.Dir)
	if err != nil {
		return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
	}
	// An earlier set-aside that was interrupted is finished first: its
	// part holds files of the same bus as what is left in DIR.
	if err := n.finishSetAside(); err != nil {
		return err
	}
	if !holdsBusDirs(dir) {
		return nil // nothing to set aside (an interrupted one took it all)
	}
	aside := fmt.Sprintf("%s%s%d", dir, setAsidePrefix, time.Now().UnixNano())
	part := aside + setAsidePartSuffix
	if err := n.setAsideStep("make " + part); err != nil {
		return err
	}
	if err := os.Mkdir(part, 0o755); err != nil {
		return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
	}
	if err := syncFile(filepath.Dir(dir)); err != nil {
		return err
	}
	// What is set aside is what DIR holds now (under its lock), each
	// marked with this set-aside's token and named by identity before
	// anything moves (setAsideManifest, SetAsideMarkFile).
	ids, err := n.markBusDirs(dir, part, rand.Text())
	if err != nil {
		return err
	}
	if err := n.setAsideStep("write " + setAsideManifest); err != nil {
		return err
	}
	if err := writeSetAsideManifest(part, ids); err != nil {
		return err
	}
	if _, err := n.fillSetAside(dir, part, ids); err != nil {
		return err
	}
	if err := n.sealSetAside(dir, part, aside); err != nil {
		return err
	}
	n.logf("node %s: %s (%v); moved it to %s and rebuilding", n.cfg.ID, what, why, aside)
	n.logSetAside()
	return nil
}

// holdsBusDirs reports whether dir holds any of the bus directories
// (busDirs), whatever they hold.
func holdsBusDirs(dir string) bool {
	for _, sub := range busDirs {
		if _, err := os.Lstat(filepath.Join(dir, sub)); err == nil {
			return true
		}
	}
	return false
}

// setAsidePartSuffix ends the name of a set-aside directory that is still
// being filled (DIR.diverged-<unix ns>.part): setAside renames it to
// DIR.diverged-<unix ns> once it holds every bus file, and SetAsideDirs
// does not list it.
const setAsidePartSuffix = ".part"

// setAsideStep calls the test hook (NodeConfig.setAsideStep), if any,
// before each change setAside and finishSetAside make: an error stops
// there, as a crash would.
func (n *Node) setAsideStep(step string) error {
	if n.cfg.setAsideStep == nil {
		return nil
	}
	return n.cfg.setAsideStep(step)
}

// fillSetAside moves into part each of DIR's bus directories that part
// lacks and ids names (the ones DIR held when the set-aside began) while
// it is still that directory (dirID), then syncs both directories (each
// rename changes both). It returns those it left in DIR because they are
// not (made or changed since: another writer used DIR after a crash).
// Any other bus directory in DIR, one ids does not name or one part
// already holds, was made there after the set-aside began, and stays:
// until 2026-12-07 everything part lacked was taken, so a bus made in DIR
// after a crash (an operator's command) lost its checkpoints/ to the old
// bus's set-aside (TestFinishSetAsideLeavesNewBusInDir).
func (n *Node) fillSetAside(dir, part string, ids map[string]dirID) (left []string, err error) {
	for _, sub := range busDirs {
		if _, err := os.Lstat(filepath.Join(part, sub)); err == nil {
			continue
		}
		id, listed := ids[sub]
		if !listed {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
		}
		if !id.isDir(filepath.Join(dir, sub), fi) {
			left = append(left, sub)
			continue
		}
		if err := n.setAsideStep("move " + sub); err != nil {
			return nil, err
		}
		err = os.Rename(filepath.Join(dir, sub), filepath.Join(part, sub))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
		}
	}
	if err := syncFile(part); err != nil {
		return nil, err
	}
	return left, syncFile(dir)
}

// sealSetAside removes the set-aside marks from the bus directories of
// part, filled, and of dir (one left there: made or changed since the
// set-aside began), then part's manifest, and renames part to its final
// name aside, syncing each change.
func (n *Node) sealSetAside(dir, part, aside string) error {
	if err := n.unmarkBusDirs(part); err != nil {
		return err
	}
	if err := n.unmarkBusDirs(dir); err != nil {
		return err
	}
	if err := n.setAsideStep("remove " + setAsideManifest); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(part, setAsideManifest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
	}
	if err := syncFile(part); err != nil {
		return err
	}
	if err := n.setAsideStep("rename " + part); err != nil {
		return err
	}
	if err := os.Rename(part, aside); err != nil {
		return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
	}
	return syncFile(filepath.Dir(aside))
}

// finishSetAside finishes the set-asides of the node's directory that
// were interrupted (setAside: a crash, or a move that failed), oldest
// first, each to one of the two states a whole bus is in: a part that
// holds none of the bus directories is removed (nothing was moved: the bus
// is whole in DIR, and the next look decides again), and one that holds
// some is given the rest from DIR, those its manifest names that are
// still the same directories (fillSetAside), and renamed to its final
// name (the bus is whole aside, and DIR is rebuilt; or, when another
// writer made or changed one since, not whole, and the line says so). Every step can itself be
// interrupted: the next call takes up what is left. It runs with the
// directory's lock held (openFollower, setAside).
func (n *Node) finishSetAside() error {
	dir, err := asideBase(n.cfg.Dir)
	if err != nil {
		return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
	}
	if err := n.adoptMovedParts(dir); err != nil {
		return err
	}
	parts, err := setAsideParts(n.cfg.Dir)
	if err != nil {
		return err
	}
	for _, part := range parts {
		if !holdsBusDirs(part) {
			// The marks it wrote into DIR's bus directories first, if
			// it got so far, then its manifest, if it got one.
			if err := n.unmarkBusDirs(dir); err != nil {
				return err
			}
			if _, err := os.Lstat(filepath.Join(part, setAsideManifest)); err == nil {
				if err := n.setAsideStep("remove " + setAsideManifest); err != nil {
					return err
				}
				if err := os.Remove(filepath.Join(part, setAsideManifest)); err != nil {
					return fmt.Errorf("replicate: finish an interrupted set-aside of %s: %w", n.cfg.Dir, err)
				}
			}
			if err := n.setAsideStep("remove " + part); err != nil {
				return err
			}
			// os.Remove, not RemoveAll: a part holding anything else
			// (put there by hand) is not removed, and fails here.
			if err := os.Remove(part); err != nil {
				return fmt.Errorf("replicate: finish an interrupted set-aside of %s: %w", n.cfg.Dir, err)
			}
			if err := syncFile(filepath.Dir(part)); err != nil {
				return err
			}
			n.logf("node %s: a set-aside of %s was interrupted before it moved anything: removed the empty %s; the bus stays in %s", n.cfg.ID, n.cfg.Dir, part, n.cfg.Dir)
			continue
		}
		// With no manifest, every move was done (it is removed only
		// then): nothing more is taken from DIR.
		ids, listed, err := readSetAsideManifest(part)
		if err != nil {
			return err
		}
		var left []string
		if listed {
			if left, err = n.fillSetAside(dir, part, ids); err != nil {
				return err
			}
		}
		aside := strings.TrimSuffix(part, setAsidePartSuffix)
		if err := n.sealSetAside(dir, part, aside); err != nil {
			return err
		}
		if len(left) > 0 {
			n.logf("node %s: a set-aside of %s was interrupted: finished it in %s, but not whole: %s/ in %s was made or changed since the set-aside began (another writer used the directory after the interruption) and stays there: the old bus's files are split between the two",
				n.cfg.ID, n.cfg.Dir, aside, strings.Join(left, "/, "), n.cfg.Dir)
			continue
		}
		n.logf("node %s: a set-aside of %s was interrupted: finished it, the whole bus is in %s, and rebuilding", n.cfg.ID, n.cfg.Dir, aside)
	}
	return nil
}

// setAsideParts lists the set-aside directories of dir (as listAsides
// finds them) still being filled (DIR.diverged-<unix ns>.part), oldest
// first.
func setAsideParts(dir string) ([]string, error) { return listAsides(dir, setAsidePartSuffix) }

// listAsides lists the directories beside dir (asideBase's path; and,
// when dir is a symbolic link, beside the link too, where a node built
// before 2026-12-07 set aside) named DIR.diverged-<unix ns> followed by
// suffix, oldest first: by the time in the name, then the name, so that
// the order never depends on the directory's listing. A missing parent
// directory lists none.
func listAsides(dir, suffix string) ([]string, error) {
	spelled, err := spelledAsideBase(dir)
	if err != nil {
		return nil, fmt.Errorf("replicate: list set-aside directories of %s: %w", dir, err)
	}
	resolved, err := asideBase(dir)
	if err != nil {
		return nil, fmt.Errorf("replicate: list set-aside directories of %s: %w", dir, err)
	}
	type aside struct {
		path string
		ns   int64
	}
	var found []aside
	for _, b := range slices.Compact([]string{resolved, spelled}) {
		parent, base := filepath.Dir(b), filepath.Base(b)
		ents, err := os.ReadDir(parent)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: list set-aside directories of %s: %w", dir, err)
		}
		for _, e := range ents {
			rest, ok := strings.CutPrefix(e.Name(), base+setAsidePrefix)
			if !ok || !e.IsDir() {
				continue
			}
			digits, ok := strings.CutSuffix(rest, suffix)
			if !ok {
				continue
			}
			ns, err := strconv.ParseInt(digits, 10, 64)
			if err != nil {
				continue
			}
			found = append(found, aside{filepath.Join(parent, e.Name()), ns})
		}
	}
	slices.SortFunc(found, func(a, b aside) int {
		if a.ns != b.ns {
			return cmp.Compare(a.ns, b.ns)
		}
		return strings.Compare(a.path, b.path)
	})
	paths := make([]string, len(found))
	for i, a := range found {
		paths[i] = a.path
	}
	return paths, nil
}

// InterruptedSetAside is a set-aside of a node's directory that was
// interrupted (a crash, or a move that failed), as the node's next start
// finds it (finishSetAside).
type InterruptedSetAside struct {
	Path  string   // DIR.diverged-<unix ns>.part
	Final string   // DIR.diverged-<unix ns>: the name finishing it gives it
	Holds []string // the bus directories moved into it (of wal, checkpoints, shared); none: nothing was moved
}

// InterruptedSetAsides lists the interrupted set-asides beside dir,
// oldest first, reading only (mmsb check names them): a node's next
// start in dir removes one that holds none of the bus directories (the
// bus is whole in dir), and finishes one that holds some, moving the
// rest there from dir and giving it its final name. Paths are as
// SetAsideDirs gives them; a missing parent directory lists none.
func InterruptedSetAsides(dir string) ([]InterruptedSetAside, error) {
	parts, err := setAsideParts(dir)
	if err != nil {
		return nil, err
	}
	out := make([]InterruptedSetAside, 0, len(parts))
	for _, p := range parts {
		a := InterruptedSetAside{Path: p, Final: strings.TrimSuffix(p, setAsidePartSuffix)}
		for _, sub := range busDirs {
			if _, err := os.Lstat(filepath.Join(p, sub)); err == nil {
				a.Holds = append(a.Holds, sub)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// logSetAside logs the set-aside directories beside the node's directory
// (SetAsideDirs), if any: nothing removes them (they may hold the only
// copy of acknowledged commits: NATS storage lost), so an operator
// inspects them and removes those not needed, and this line, at every
// start and after each set-aside, says they are there and take space.
func (n *Node) logSetAside() {
	dirs, err := SetAsideDirs(n.cfg.Dir)
	switch {
	case err != nil:
		n.logf("node %s: %v", n.cfg.ID, err)
	case len(dirs) > 0:
		n.logf("node %s: set-aside directories beside %s: %d, oldest %s, newest %s; nothing removes them: inspect them (mmsb check, mmsb inspect) and remove those not needed (docs/replication.md)",
			n.cfg.ID, n.cfg.Dir, len(dirs), dirs[0], dirs[len(dirs)-1])
	}
}

// asideBase returns the path that a set-aside directory's name extends:
// dir cleaned, and made absolute when it is "." or ends in "..": ".",
// the working directory, was set aside inside itself as
// "..diverged-<ns>", and "..", as "...diverged-<ns>" in the working
// directory, inside it too. When dir is a symbolic link it is resolved,
// so that every spelling of the directory names its set-asides alike,
// beside the directory itself: until 2026-12-07 a node given the link
// set aside beside the link, and one given the directory did not see
// that set-aside's .part, nor list its set-asides
// (TestSetAsideSameThroughSymlink); and a link to another filesystem
// made every set-aside fail (a rename cannot cross filesystems). A
// dangling link is left as it is (there is nothing to set aside).
func asideBase(dir string) (string, error) {
	dir, err := spelledAsideBase(dir)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		resolved, err := filepath.EvalSymlinks(dir)
		if errors.Is(err, os.ErrNotExist) {
			return dir, nil
		}
		return resolved, err
	}
	return dir, nil
}

// spelledAsideBase returns dir cleaned, and made absolute when it is "."
// or ends in "..", as asideBase does, with no symbolic link resolved.
func spelledAsideBase(dir string) (string, error) {
	dir = filepath.Clean(dir)
	if b := filepath.Base(dir); b == "." || b == ".." {
		return filepath.Abs(dir)
	}
	return dir, nil
}

// setAsidePrefix is what follows a bus directory's path in the name of a
// directory its node set aside: DIR.diverged-<unix ns>.
const setAsidePrefix = ".diverged-"

// SetAsideDirs lists the directories a node set aside beside dir
// (dir.diverged-<unix ns>, Node's setAside), oldest first: the paths, as
// dir is given (made absolute when it ends in "." or "..", resolved when
// it is a symbolic link: they are beside the directory it names). A
// missing parent directory lists none.
func SetAsideDirs(dir string) ([]string, error) {
	// A ".part" suffix fails the number's parse (strings.CutSuffix of ""
	// keeps it): those are the interrupted ones (setAsideParts).
	return listAsides(dir, "")
}

// Run follows and leads until ctx ends or an error that retrying cannot
// fix. The last bus is closed when it returns. A directory another writer
// holds when Run starts (mmsb.ErrLocked: a second node, or a command, on
// the same directory) ends it at once: it retried every LeaseTTL/4 for
// ever, and `mmsb replicate` on a directory in use exited 0 at its end
// having done nothing. Later cycles close their bus before the next opens
// it, so a lock found then is another writer's too, but a node that has
// run keeps retrying through it as through other outages.
//
// A follow-only node whose stream or buckets did not exist at NewNode
// first waits for them (awaitResources), creating nothing.
func (n *Node) Run(ctx context.Context) error {
	if err := n.awaitResources(ctx); err != nil || ctx.Err() != nil {
		return err
	}
	ended := repeatLog{every: roleEndedLogEvery}
	for first := true; ctx.Err() == nil; first = false {
		err := n.followThenLead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		n.roleEnds.Add(1)
		// An error no cycle fixes (the stream deleted under a
		// leader-capable node) ended a role every LeaseTTL/4 for ever,
		// with a line each time: 23 in 17 s with a 3 s lease.
		if log, note := ended.next(fmt.Sprint(err), time.Now()); log {
			n.logf("node %s: role ended: %v%s", n.cfg.ID, err, note)
		}
		// Nothing refreshes the lag until a follower runs again.
		n.Metrics.LagUnknown.Store(true)
		if stopsNode(err) || first && errors.Is(err, mmsb.ErrLocked) {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(n.cfg.LeaseTTL / 4):
		}
	}
	return nil
}

// roleEndedLogEvery is how often Run repeats a "role ended" line whose
// error text is the one it logged last (repeatLog).
const roleEndedLogEvery = time.Minute

// repeatLog rate-limits a line that repeats with the same text: the first
// is logged, and a different text at once; the same text again only every
// `every`, saying how many were not logged since. Its zero time is "never
// logged".
type repeatLog struct {
	every      time.Duration
	last       string    // the text of the last line logged
	at         time.Time // when it was logged
	suppressed int       // lines with the text last, not logged since at
}

// next reports whether a line with text, at now, is logged, and a note to
// append to it: the count of the lines it stands for that were not logged.
func (r *repeatLog) next(text string, now time.Time) (log bool, note string) {
	if !r.at.IsZero() && text == r.last && now.Sub(r.at) < r.every {
		r.suppressed++
		return false, ""
	}
	switch {
	case r.suppressed == 0:
	case text == r.last:
		note = fmt.Sprintf(" (%d more like it in the last %v, not logged)", r.suppressed, now.Sub(r.at).Round(time.Second))
	default:
		note = fmt.Sprintf(" (the previous error ended %d more roles, not logged)", r.suppressed)
	}
	r.last, r.at, r.suppressed = text, now, 0
	return true, note
}

// How a follow-only node waits for resources it did not find: it looks
// them up every awaitPoll (a leader started later is followed within
// about that) and logs that it waits at once and then every awaitLogEvery
// (a line a second would bury the rest of the log).
const (
	awaitPoll     = time.Second
	awaitLogEvery = time.Minute
)

// awaitResources waits, for a follow-only node, until the stream and the
// buckets that NewNode did not find exist (a leader makes them), then
// takes them: the stream, the bucket's lease TTL and the term saved for
// that stream. It creates nothing: a follower that made them turned a
// mistyped --stream or --bus into a new, empty bus, and followed it at LSN
// 0 for ever, looking healthy. Metrics.WaitingForStream is set meanwhile.
// It returns nil when ctx ends, ErrConfig for a resource that appears
// with a configuration no node can follow (a lease bucket's TTL out of
// bounds), and mmsb.ErrLocked when another writer holds the directory
// (it holds the directory's lock while it waits).
func (n *Node) awaitResources(ctx context.Context) error {
	// Nothing else reads n.res or n.cfg before this returns: Run starts
	// the follower after it.
	missing := n.res.missing()
	if missing == "" {
		return nil
	}
	// The directory is held while the node waits, as its bus holds it
	// once open (the same lock): a second node or a command on it is
	// refused now (mmsb.ErrLocked), as at a first open, not whenever the
	// stream appears; two follow-only nodes given one directory both
	// waited, then both began to bootstrap into it. Released before the
	// bus opens.
	lk, err := n.lockDir()
	if err != nil {
		return err
	}
	defer func() { _ = lk.Close() }() // a lock: nothing written to lose
	// Set before WaitingForStream and cleared after it (defers run last
	// first): serve reads WaitingFor while WaitingForStream is set.
	n.setWaiting(missing)
	defer n.setWaiting("")
	n.Metrics.WaitingForStream.Store(true)
	n.Metrics.LagUnknown.Store(true)
	defer n.Metrics.WaitingForStream.Store(false)
	hint := "the stream's name"
	if n.cfg.BusFlag != "" {
		hint = n.cfg.BusFlag
	}
	var logged time.Time
	var lookupErr error // the last lookup's failure (a server unreachable)
	for {
		if logged.IsZero() || time.Since(logged) >= awaitLogEvery {
			why := ""
			if lookupErr != nil {
				why = fmt.Sprintf("; last lookup: %v", lookupErr)
			}
			if n.res.stream == nil {
				n.logf("node %s: follow-only: waiting for stream %s (no leader has created it; is %s right?)%s", n.cfg.ID, n.res.cfg.StreamName(), hint, why)
			} else {
				n.logf("node %s: follow-only: waiting for %s (a leader creates them beside the stream)%s", n.cfg.ID, missing, why)
			}
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(awaitPoll):
		}
		rctx, cancel := n.res.call(ctx)
		res, err := ensure(rctx, n.res.js, n.res.cfg, true)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrConfig):
			return err
		case err != nil:
			lookupErr = err
			continue
		}
		lookupErr = nil
		if missing = res.missing(); missing != "" {
			if res.stream != nil && n.res.stream == nil {
				logged = time.Time{} // say what it waits for now
			}
			n.res = res
			n.setWaiting(missing)
			continue
		}
		n.res, n.cfg.LeaseTTL = res, res.cfg.LeaseTTL
		term, err := loadTerm(n.cfg.Dir, n.streamID())
		if err != nil {
			return err
		}
		n.termMu.Lock()
		n.termSeen = max(n.termSeen, term)
		n.termMu.Unlock()
		n.logf("node %s: follow-only: found stream %s; following", n.cfg.ID, res.cfg.StreamName())
		return nil
	}
}

// stopsNode reports whether err ends Node.Run instead of another cycle. A
// follower whose state differs from the leader's stops here
// (mmsb_replication_hash_mismatch_total counts it): an operator decides,
// instead of the node silently rebuilding. So does one that cannot take
// the next record where it runs (no memory or space for its pages, a
// record larger than its log holds): following again would reopen the
// bus and refuse the same record, for ever; restarted where there is
// room, it takes it. A node with no term left to lead (ErrTermsExhausted)
// would meet the same term at every cycle, and one whose next records
// were deleted inside the stream (ErrStreamGap) the same gap.
func stopsNode(err error) bool {
	if err == nil {
		return false
	}
	for _, fatal := range []error{mmsb.ErrReplicaDiverged, ErrStaleTerm, ErrBadMessage, mmsb.ErrNoSpace, mmsb.ErrRecordTooLarge, ErrTermsExhausted, ErrStreamGap} {
		if errors.Is(err, fatal) {
			return true
		}
	}
	return false
}

// followThenLead is one cycle: follow until the lease is free, then lead
// until the lease or the stream is lost.
func (n *Node) followThenLead(ctx context.Context) error {
	bus, f, err := n.openFollower(ctx)
	if err != nil {
		return err
	}
	n.setRole(bus, false)
	fctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- f.Run(fctx) }()
	var lease *Lease
	held := false // the last attempt found the lease held
	tick := time.NewTicker(n.cfg.LeaseTTL / 4)
	defer tick.Stop()
	for lease == nil {
		select {
		case err := <-errc:
			cancel()
			n.setRole(nil, false)
			_ = bus.Close()
			return err
		case <-ctx.Done():
			cancel()
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				n.logf("node %s: follower stopped: %v", n.cfg.ID, err)
			}
			n.setRole(nil, false)
			return bus.Close()
		case <-tick.C:
		}
		if n.cfg.FollowOnly {
			continue
		}
		lctx, lcancel := n.res.call(ctx)
		l, err := acquireLease(lctx, n.res.lease, n.cfg.ID, n.cfg.LeaseTTL)
		lcancel()
		switch {
		case err == nil:
			lease = l
		case !errors.Is(err, ErrLeaseHeld):
			n.logf("node %s: %v", n.cfg.ID, err)
			held = false
		case !held:
			// Once per spell, so that a log shows which node waits on
			// whose lease without a line every LeaseTTL/4.
			n.logf("node %s: following: %v", n.cfg.ID, err)
			held = true
		}
	}
	cancel()
	err = <-errc
	if err != nil && !errors.Is(err, context.Canceled) {
		lease.release(context.Background())
		n.setRole(nil, false)
		_ = bus.Close()
		return err
	}
	err = n.lead(ctx, bus, lease, f.bootstrapped)
	lease.release(context.Background())
	return err
}

// lead catches up to the stream's end, reopens the bus as leader of the
// next term and serves until the lease is lost, the publisher fails or ctx
// ends. bootstrapped is the LSN of the stored checkpoint the bus was just
// rebuilt from (0: none; Follower.bootstrapped).
func (n *Node) lead(ctx context.Context, bus *mmsb.Bus, lease *Lease, bootstrapped mmsb.LSN) error {
	ictx, cancel := n.res.call(ctx)
	info, err := n.res.stream.Info(ictx)
	cancel()
	if err != nil {
		n.setRole(nil, false)
		_ = bus.Close()
		return fmt.Errorf("replicate: stream info: %w", err)
	}
	last := info.State.LastSeq
	// The catch-up's target is the stream's last record: the info's
	// last sequence stays that of a last message deleted inside the
	// stream (nats stream rmm), which no consumer delivers. Caught up to
	// it, every node's catch-up stalled (ErrCatchUpStalled) and gave the
	// lease up, for ever: no node led, so none published a record that
	// would move the last sequence on
	// (TestNodeLeadsWithStreamLastMessageDeleted). The publisher still
	// expects the info's last sequence, which the server's check of a
	// publish compares with.
	target := last
	var lastMeta recordMeta
	haveLast := false
	if info.State.Msgs > 0 {
		rd := &trimReader{r: n.res, reads: map[uint64]trimRead{}}
		seq, meta, ok, err := rd.last(ctx)
		if err != nil {
			n.setRole(nil, false)
			_ = bus.Close()
			return err
		}
		if ok && seq <= last {
			target, lastMeta, haveLast = seq, meta, true
		}
	}
	f := newFollower(bus, n.res, &n.Metrics)
	f.onTerm, f.bootstrapped = n.sawTerm, bootstrapped
	if err := f.CatchUp(ctx, target); err != nil {
		n.setRole(nil, false)
		_ = bus.Close()
		return fmt.Errorf("replicate: catch up to sequence %d before leading: %w", target, err)
	}
	term := max(n.seenTerm(), f.maxTerm)
	if haveLast {
		term = max(term, lastMeta.Term)
	}
	term, err = nextTerm(term)
	if err == nil {
		err = n.sawTerm(term)
	}
	if err != nil {
		n.setRole(nil, false)
		_ = bus.Close()
		return err
	}
	caughtUp := bus.LastLSN()
	n.setRole(nil, false)
	if err := bus.Close(); err != nil {
		return err
	}
	pubLease := lease
	if n.cfg.noLeaseCheck {
		pubLease = nil
	}
	pub := newPublisher(n.res, term, last, caughtUp, pubLease, &n.Metrics)
	o := n.busOptions()
	o.Replicator, o.Sync = pub, mmsb.SyncReplicated
	lb, err := mmsb.Open(n.cfg.Dir, &o)
	if err != nil {
		pub.close()
		return err
	}
	n.mu.Lock()
	n.lease, n.term, n.leadErr = lease, term, nil
	n.mu.Unlock()
	n.setRole(lb, true)
	err = n.serve(ctx, lb, pub, lease, info.Created)
	if errors.Is(err, ErrLeaseLost) {
		err = fmt.Errorf("node %s, term %d, lease %s key %q: %w", n.cfg.ID, term, n.res.cfg.LeaseBucket(), leaseKey, err)
	}
	n.mu.Lock()
	n.leadErr = err
	n.mu.Unlock()
	n.setRole(nil, false)
	_ = lb.Close()
	pub.close()
	return err
}

// streamCheckTicks is how many of serve's ticks (LeaseTTL/8 each) pass
// between two looks at the leader's stream: one a LeaseTTL, as cheap as a
// lease renewal.
const streamCheckTicks = 8

// streamGoneLooks is how many looks in a row (one a serve tick, LeaseTTL/8,
// once the first found none) must find the leader's stream gone before
// the role ends. One "stream not found" answer is not proof: a server
// restarting, or a JetStream cluster electing a leader, may give it
// while the stream is there.
const streamGoneLooks = 3

// checkStream looks the leader's stream up: ErrStreamUnavailable when it
// is gone, or was made again since the role began (its creation time is
// not created), naming it. gone reports that the answer was "stream not
// found" (the error then): serve ends the role only once streamGoneLooks
// looks in a row say so; found, that the stream was there. A lookup that
// fails otherwise (a server out of reach) says nothing, neither found nor
// gone: the publisher and the lease report an outage.
// It waits at most LeaseTTL/4 (or AckTimeout, if shorter): serve, which
// also watches the lease, is held up no longer by a server that does
// not answer.
func (n *Node) checkStream(ctx context.Context, created time.Time) (gone, found bool, err error) {
	ictx, cancel := context.WithTimeout(ctx, min(n.res.cfg.AckTimeout, n.cfg.LeaseTTL/4))
	info, err := n.res.stream.Info(ictx)
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return true, false, fmt.Errorf("%w: node %s leads stream %s, which was deleted (an operator, or another program): not found at %d looks in a row; the role ends; the node follows again once the stream exists: %w",
			ErrStreamUnavailable, n.cfg.ID, n.res.cfg.StreamName(), streamGoneLooks, err)
	case err != nil:
		return false, false, nil
	case !created.IsZero() && !info.Created.Equal(created):
		return false, true, fmt.Errorf("%w: node %s leads stream %s made at %s, which was deleted and made again (now made at %s): the role ends, to follow the new stream",
			ErrStreamUnavailable, n.cfg.ID, n.res.cfg.StreamName(), created.UTC().Format(time.RFC3339Nano), info.Created.UTC().Format(time.RFC3339Nano))
	}
	return false, true, nil
}

// serve waits while leading, archiving checkpoints as records accumulate.
// created is the creation time of the stream the role leads: every
// streamCheckTicks ticks (one LeaseTTL) it looks the stream up, and a
// stream deleted, or deleted and made again, ends the role
// (ErrStreamUnavailable). Before, a leader that committed nothing learnt
// it only at its next commit: Leader() returned a bus, and LastLead no
// error, for as long as it stayed idle, while every follower already
// said the stream was gone.
func (n *Node) serve(ctx context.Context, bus *mmsb.Bus, pub *Publisher, lease *Lease, created time.Time) error {
	t := time.NewTicker(n.cfg.LeaseTTL / 8)
	defer t.Stop()
	ticks := 0
	goneLooks := 0 // looks in a row that found the stream gone
	// bucketGoneLooks counts the failed archives in a row after which the
	// checkpoint bucket was not found; retryArchive, that the next tick
	// archives again, whatever was published since.
	bucketGoneLooks, retryArchive := 0, false
	// RecordsPublished counts over the node's life: a node that leads again
	// counts its CheckpointEvery records from where this term starts, not
	// from zero (which would archive at once for its earlier terms).
	archived := n.Metrics.RecordsPublished.Load()
	lost := lease.Lost()
	if n.cfg.noLeaseCheck {
		lost = nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			return ErrLeaseLost
		case <-t.C:
		}
		if err := pub.Err(); err != nil {
			return err
		}
		if err := bus.Err(); err != nil {
			return err
		}
		if !lease.Valid() && !n.cfg.noLeaseCheck {
			return ErrLeaseLost
		}
		// Once a look found the stream gone, the next looks come at
		// every tick: a stream really deleted ends the role
		// streamGoneLooks-1 ticks later, a spurious answer (a server
		// restarting, a leader election) ends nothing once a look finds
		// the stream again (a look that fails otherwise counts for
		// neither). Before, one such answer ended the role.
		if ticks++; goneLooks > 0 || ticks%streamCheckTicks == 0 {
			gone, found, err := n.checkStream(ctx, created)
			switch {
			case gone:
				if goneLooks++; goneLooks >= streamGoneLooks {
					return err
				}
			case err != nil:
				return err
			case found:
				goneLooks = 0
			}
		}
		if n.cfg.CheckpointEvery > 0 {
			if p := n.Metrics.RecordsPublished.Load(); retryArchive || p-archived >= uint64(n.cfg.CheckpointEvery) {
				archived, retryArchive = p, false
				// A lease lost meanwhile ends the upload: the role
				// ends then, not when the upload does (up to
				// 10 × AckTimeout later), Leader() returning a bus
				// whose commits all failed until then. It is stopped
				// at its next read (archiveCheckpoint), so that the
				// object store removes the chunks sent, as it is when
				// ctx ends (the node stopped) or the deadline passes;
				// the upload's own context ends only if the store
				// reads on no more within AckTimeout.
				actx, cancel := context.WithTimeout(ctx, 10*n.res.cfg.AckTimeout)
				uploaded, stop := make(chan struct{}), make(chan struct{})
				go func() {
					select {
					case <-lost: // nil (never) without a lease check
						close(stop)
					case <-uploaded:
					}
				}()
				_, err := archiveCheckpoint(actx, n.res, bus, pub, stop, func(format string, args ...any) {
					// The same checkpoints are left at every trim
					// until an operator deletes them: one line a
					// minute says so.
					line := fmt.Sprintf(format, args...)
					if log, note := n.leftLog.next(line, time.Now()); log {
						n.prefixLogf("%s%s", line, note)
					}
				})
				close(uploaded)
				cancel()
				select {
				case <-lost:
					return ErrLeaseLost
				default:
				}
				if err != nil && ctx.Err() == nil {
					if !n.res.checkpointBucketGone(ctx) {
						return err
					}
					// One "bucket not found" is no proof (a server
					// restarting, a JetStream cluster electing a
					// leader): the archive is tried again at the next
					// tick, and the bucket is taken as deleted only
					// once streamGoneLooks looks in a row after failed
					// archives found none. Until 2026-12-07 one such
					// answer skipped the upload until CheckpointEvery
					// more records were published
					// (TestLeaderRetriesArchiveAfterSpuriousBucketNotFound).
					if bucketGoneLooks++; bucketGoneLooks < streamGoneLooks {
						retryArchive = true
						continue
					}
					line, remade := n.remakeCheckpointBucket(ctx, created)
					if log, note := n.bucketLog.next(line, time.Now()); log {
						n.logf("%s%s", line, note)
					}
					retryArchive = remade
					continue
				}
				if err == nil {
					bucketGoneLooks = 0
				}
			}
		}
	}
}

// checkpointBucketGone reports whether the checkpoint bucket does not
// exist (deleted while nodes run: an operator, or another program): the
// server says so, not a lookup that fails otherwise (a server out of
// reach, a leader election), which reports false.
func (r *resources) checkpointBucketGone(ctx context.Context) bool {
	if r.js == nil {
		return false // a store given alone (tests): nothing to look up
	}
	ictx, cancel := r.call(ctx)
	defer cancel()
	_, err := r.js.ObjectStore(ictx, r.cfg.CheckpointBucket())
	return errors.Is(err, jetstream.ErrBucketNotFound)
}

// remakeCheckpointBucket makes the checkpoint bucket again, as NewNode
// makes it (ensureCheckpointBucket), once failed archives found it
// deleted while the node leads (an operator, or another program): a line
// saying what it did, and whether it made the bucket (the next tick then
// archives into it, and trims the stream as every archive does). It makes
// it only while the role's stream is there (created: its creation time):
// a stream deleted too ends the role at serve's next looks, and its
// bucket stays deleted. Until 2026-12-07 the leader led on without
// storing checkpoints until a node was started or an operator made the
// bucket: nothing trimmed the stream meanwhile, which grew with every
// record until JetStream's storage refused one, failing the leader's bus
// and every next leader's (TestLeaderRemakesDeletedCheckpointBucket).
// When the bucket cannot be made, the leader leads on without storing
// checkpoints, the stream untrimmed, and tries again at its next archive.
// (Before that, until 2026-12-07, each failed upload ended the role:
// the nodes took turns leading, a new term every CheckpointEvery records:
// TestLeaderLeadsOnWithCheckpointBucketDeleted.)
func (n *Node) remakeCheckpointBucket(ctx context.Context, created time.Time) (line string, remade bool) {
	gone := fmt.Sprintf("node %s: checkpoint bucket %s was deleted (an operator, or another program): not found after %d failed archives in a row",
		n.cfg.ID, n.res.cfg.CheckpointBucket(), streamGoneLooks)
	leadOn := fmt.Sprintf("leading on without storing checkpoints; stream %s is not trimmed, and a follower behind its first record cannot bootstrap, until the bucket exists again (tried again at the next archive; docs/replication.md)",
		n.res.cfg.StreamName())
	if _, found, err := n.checkStream(ctx, created); !found || err != nil {
		return fmt.Sprintf("%s; not made again while stream %s is not found as the role found it: %s", gone, n.res.cfg.StreamName(), leadOn), false
	}
	ictx, cancel := n.res.call(ctx)
	defer cancel()
	if _, err := ensureCheckpointBucket(ictx, n.res.js, n.res.cfg); err != nil {
		return fmt.Sprintf("%s; making it again failed (%v): %s", gone, err, leadOn), false
	}
	return fmt.Sprintf("%s; made it again: the next archive stores a checkpoint into it and trims stream %s", gone, n.res.cfg.StreamName()), true
}
