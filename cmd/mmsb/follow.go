package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/vfs"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.followCmd() }) }

// replicationFlags are the flags follow and replicate share.
type replicationFlags struct {
	natsURL     string
	bus         string
	busFlag     string // the name of bus's flag: bus (replicate) or stream (follow)
	dir         string
	replicas    int
	leaseTTL    time.Duration
	verifyEvery int
	statusEvery time.Duration
}

func (f *replicationFlags) add(cmd *cobra.Command, busFlag string) {
	f.busFlag = busFlag
	cmd.Flags().StringVar(&f.bus, busFlag, "mmsb", "name of the replicated bus: the stream is MMSB_LOG_<NAME>")
	cmd.Flags().StringVar(&f.dir, "dir", "", "bus data directory (required)")
	intVar(cmd.Flags(), &f.replicas, "replicas", 1, "stream, lease and checkpoint bucket replicas (3 on a three-server cluster)")
	cmd.Flags().DurationVar(&f.leaseTTL, "lease-ttl", 3*time.Second, "leader lease time to live (failover takes about this long)")
	intVar(cmd.Flags(), &f.verifyEvery, "verify-every", 1000, "followers recompute the state hash from every page after this many records (0: never)")
	cmd.Flags().DurationVar(&f.statusEvery, "status-every", time.Second, "print a status line this often (0: never)")
}

func (f *replicationFlags) config() (replicate.Config, error) {
	if f.dir == "" {
		return replicate.Config{}, usageErr("--dir is required")
	}
	f.dir = nodeDirPath(f.dir)
	cfg := replicate.Config{Bus: strings.TrimPrefix(f.bus, "MMSB_LOG_"), Replicas: f.replicas, LeaseTTL: f.leaseTTL}
	if err := checkBusName("--"+f.busFlag, f.bus, cfg.Bus); err != nil {
		return cfg, err
	}
	if f.leaseTTL < replicate.MinLeaseTTL || f.leaseTTL > replicate.MaxLeaseTTL {
		return cfg, usageErr("--lease-ttl %v: want %v to %v", f.leaseTTL, replicate.MinLeaseTTL, replicate.MaxLeaseTTL)
	}
	// Checked here, before any connection: replicate.Config would turn
	// --replicas 0 into 1 silently, and negative intervals would mean
	// "never" without saying so.
	if err := checkReplicas(f.replicas); err != nil {
		return cfg, err
	}
	if err := checkEmbeddedReplicas(f.natsURL, f.replicas); err != nil {
		return cfg, err
	}
	if f.verifyEvery < 0 || f.statusEvery < 0 {
		return cfg, usageErr("--verify-every and --status-every must not be negative (0: never)")
	}
	// A status line every nanosecond printed lines flat out.
	if f.statusEvery > 0 && f.statusEvery < minStatusEvery {
		return cfg, usageErr("--status-every %v: want 0 (never) or at least %v", f.statusEvery, minStatusEvery)
	}
	return cfg, nil
}

// minStatusEvery is the shortest --status-every: ten lines a second are
// more than a reader follows.
const minStatusEvery = 100 * time.Millisecond

// checkBusName refuses a bus name (value as given to flag, name once its
// MMSB_LOG_ prefix is dropped) that replicate.Config would refuse. The
// node checks it only once connected: without --nats an embedded
// nats-server had started, DIR.nats was made and its URL printed on
// stdout before the command failed with exit status 1.
func checkBusName(flag, value, name string) error {
	if err := replicate.CheckBusName(name); err != nil {
		return usageErr("%s %q: %v (the stream is MMSB_LOG_<NAME>)", flag, value, err)
	}
	return nil
}

// checkReplicas refuses a replication factor JetStream cannot have
// (replicate.Config takes 1..5).
func checkReplicas(n int) error {
	if n < 1 || n > 5 {
		return usageErr("--replicas %d: want 1..5", n)
	}
	return nil
}

// checkEmbeddedReplicas refuses --replicas above 1 without --nats (natsURL
// ""): the embedded nats-server is one server, and a stream or bucket of
// N replicas needs N. The node printed the embedded server's URL, said
// nothing for 30 s, then failed (exit 1) with nats-server's "replicas > 1
// not supported in non-clustered mode", leaving DIR.nats made.
func checkEmbeddedReplicas(natsURL string, n int) error {
	if natsURL == "" && n > 1 {
		return usageErr("--replicas %d needs --nats: without it the node starts one embedded nats-server, "+
			"which holds 1 replica (name a cluster of at least %d servers with --nats)", n, n)
	}
	return nil
}

func (a *app) followCmd() *cobra.Command {
	var f replicationFlags
	cmd := &cobra.Command{
		Use:   "follow --nats URL --stream NAME --dir DIR",
		Short: "Follow a replicated bus: apply the leader's records from NATS JetStream",
		Long: `follow keeps the bus in DIR a read-only replica of a replicated bus
(docs/replication.md). It bootstraps an empty DIR from the newest checkpoint in
the JetStream object store, then consumes the stream MMSB_LOG_<NAME> with a
pull consumer from its applied LSN, applies each batch record through the
bus's recovery code, and compares its rolling state hash with the leader's
after every record. A difference stops it (exit 1) with an error naming the
LSN and both hashes. A DIR whose log went beyond the stream (a failed old
leader) is moved aside to DIR.diverged-<time> and rebuilt; a DIR holding a bus
that is not a replica of the stream (no DIR/replicate-stream or
DIR/replicate-term: made by another command) is refused (exit 1).

follow never takes the leader lease; 'mmsb replicate' runs a node that can.
Nor does it create the stream or its buckets: until a leader has made them
it waits, saying so on stderr (is --stream right?) and with
waiting_for_stream=1 on its status line.`,
		Example: `  mmsb follow --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222 --stream demo --dir ./replica`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.natsURL == "" {
				return usageErr("--nats is required")
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			return a.runNode(cmd.Context(), f, cfg, true, nil)
		},
	}
	cmd.Flags().StringVar(&f.natsURL, "nats", "", "NATS server URLs, comma-separated (required)")
	f.add(cmd, "stream")
	return cmd
}

// checkNodeDir refuses, before anything starts, a --dir that is a file
// or lies below one (a usage error, as every command's --dir), or that
// the node would refuse as a replica of stream (a bus no node made, or a
// replica of another bus: replicate.CheckDir; exit 1): the node found
// either only once connected, so replicate and serve --replicate without
// --nats had started an embedded nats-server, made DIR.nats and printed
// its URL, then failed with "read DIR/replicate-term: ... not a
// directory".
func checkNodeDir(dir, stream string) error {
	if err := checkOutputDir(dir); err != nil {
		return usageErr("--dir %s: %v (a replication node keeps its bus there)", dir, err)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil // the node makes it
	}
	// Another program's directory (a home directory): the node claimed it
	// and bootstrapped a bus among its files.
	if err := requireBusDirToWrite(dir); err != nil {
		return err
	}
	return replicate.CheckDir(dir, stream)
}

// embeddedStoreLock is the file in an embedded nats-server's store
// directory (DIR.nats) that the process running the server holds locked.
const embeddedStoreLock = "mmsb.lock"

// lockEmbeddedStore makes storeDir and locks it for the embedded
// nats-server this process is about to start on it; closing the lock
// releases it, after the server stopped. A second node on the same --dir
// (replicate or serve --replicate, a mistake) started a second
// nats-server on the JetStream files the first one's server was writing,
// printed its URL and only then failed on the bus's lock.
func lockEmbeddedStore(storeDir string) (io.Closer, error) {
	if err := os.MkdirAll(storeDir, 0o700); err != nil { // the stream holds the whole log
		return nil, fmt.Errorf("embedded nats-server store: %w", err)
	}
	l, err := vfs.Default.Lock(filepath.Join(storeDir, embeddedStoreLock))
	if errors.Is(err, vfs.ErrLocked) {
		return nil, fmt.Errorf("embedded nats-server store %s: another process runs its embedded nats-server there (a node on the same --dir?): %w", storeDir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server store: %w", err)
	}
	return l, nil
}

// nodeDirPath is a node's --dir as the node uses it. DIR.nats (the
// embedded server's store) and DIR.diverged-* lie beside DIR: `--dir DIR/`
// (a shell's completion adds the slash) put the store inside the bus
// directory as DIR/.nats, and a later run without the slash started from
// an empty store in DIR.nats; so it is cleaned. `--dir .` put it inside
// too, as ./..nats ("." + ".nats"), and `--dir ..` as ../...nats: such a
// DIR is made absolute, so that the store lies beside it, named after it.
func nodeDirPath(dir string) string {
	dir = filepath.Clean(dir)
	if base := filepath.Base(dir); base == "." || base == ".." {
		if abs, err := filepath.Abs(dir); err == nil {
			return abs
		}
	}
	return dir
}

// nodeStartErr is the error of replicate.NewNode (err) for a node on dir
// started under ctx: an interrupt while the node started (connected,
// made or found its stream, bootstrapped) said only "replicate: stream
// MMSB_LOG_x: context canceled", and replicate's --duration shorter than
// the start "... context deadline exceeded".
func nodeStartErr(ctx context.Context, dir string, err error) error {
	// Only a failure that the context's end caused: another failure
	// (a refused --dir) is said as it is.
	cerr := ctx.Err()
	if cerr == nil || !errors.Is(err, cerr) {
		return err
	}
	switch {
	case errors.Is(cerr, context.Canceled):
		return fmt.Errorf("replication node on %s interrupted before it started: %w", termText(dir), cerr)
	case errors.Is(cerr, context.DeadlineExceeded):
		// Only replicate's --duration ends ctx so.
		return fmt.Errorf("replication node on %s: --duration ended before the node started: %w", termText(dir), cerr)
	}
	return err
}

// nodeInUseNext is what busInUse tells a replication node whose --dir
// another process holds.
const nodeInUseNext = "a node's --dir is its own bus: stop the other process first, or give this node another --dir"

// runNode runs a replication node until ctx ends; onLeader, when set, runs
// each time the node leads, until the role ends.
func (a *app) runNode(ctx context.Context, f replicationFlags, cfg replicate.Config, followOnly bool, onLeader func(context.Context, *replicate.Node)) error {
	if err := checkNodeDir(f.dir, cfg.StreamName()); err != nil {
		return err
	}
	if f.natsURL == "" {
		l, err := lockEmbeddedStore(f.dir + ".nats")
		if err != nil {
			return err
		}
		defer func() { _ = l.Close() }() // after the server stopped (deferred below)
	}
	nc, stop, url, err := replicate.Connect(f.natsURL, f.dir+".nats")
	if err != nil {
		return err
	}
	defer stop()
	if f.natsURL == "" {
		fmt.Fprintf(a.stdout, "embedded nats-server at %s (JetStream storage in %s.nats); followers: mmsb follow --nats %s --stream %s --dir DIR\n", url, f.dir, url, cfg.Bus)
	}
	n, err := replicate.NewNode(ctx, replicate.NodeConfig{
		Config: cfg, Dir: f.dir, Conn: nc, FollowOnly: followOnly, VerifyEvery: f.verifyEvery,
		Logf: func(format string, args ...any) { fmt.Fprintf(a.stderr, format+"\n", args...) },
		// Named in the line a follow-only node logs while it waits.
		BusFlag: "--" + f.busFlag,
	})
	if err != nil {
		return nodeStartErr(ctx, f.dir, err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if onLeader != nil {
		// The leader loop ends with ctx; runNode waits for it so nothing
		// it prints lands after the command returned.
		ctx, cancel := context.WithCancel(ctx)
		leaderDone := make(chan struct{})
		defer func() { cancel(); <-leaderDone }()
		go func() {
			defer close(leaderDone)
			for ctx.Err() == nil {
				if _, err := n.WaitLeader(ctx); err != nil {
					return
				}
				lctx, cancel := context.WithCancel(ctx)
				go func() {
					for n.Leader() != nil && lctx.Err() == nil {
						time.Sleep(50 * time.Millisecond)
					}
					cancel()
				}()
				onLeader(lctx, n)
				<-lctx.Done()
			}
		}()
	}
	var tick <-chan time.Time
	if f.statusEvery > 0 {
		t := time.NewTicker(f.statusEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				return busInUse(f.dir, err, nodeInUseNext)
			}
			return nil
		case <-tick:
			fmt.Fprintln(a.stdout, statusLine(&n.Metrics))
		}
	}
}

// statusLine is runNode's status line. lag_lsn is "unknown" while the
// follower cannot read the stream (its last value is not current: a
// follower whose leader had gone kept printing the lag of its last
// refresh). waiting_for_stream is 1 while a follow-only node waits for a
// leader to make its stream (it creates none; the log names the stream):
// a mistyped --stream showed as a healthy follower at LSN 0.
func statusLine(m *replicate.Metrics) string {
	lag := strconv.FormatUint(m.LagLSN.Load(), 10)
	if m.LagUnknown.Load() {
		lag = "unknown"
	}
	waiting := 0
	if m.WaitingForStream.Load() {
		waiting = 1
	}
	return fmt.Sprintf("leader=%d applied_lsn=%d lag_lsn=%s records_applied=%d records_published=%d hash_mismatches=%d leader_changes=%d stream_retries=%d waiting_for_stream=%d",
		m.Leader.Load(), m.AppliedLSN.Load(), lag, m.RecordsApplied.Load(), m.RecordsPublished.Load(), m.HashMismatches.Load(), m.LeaderChanges.Load(), m.StreamRetries.Load(), waiting)
}
