package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/metrics"
)

// replicaOptions are serve's replication flags.
type replicaOptions struct {
	enabled    bool
	natsURL    string
	bus        string
	replicas   int
	leaseTTL   time.Duration
	followOnly bool
	// flagsSet names the flags above (other than --replicate) given on
	// the command line, which mean nothing without --replicate.
	flagsSet []string
}

// replicaFlagNames are the flags of serve that only --replicate reads.
var replicaFlagNames = []string{"nats", "replicate-bus", "replicas", "lease-ttl", "follow-only"}

// replicaFlagsSet lists the replication flags given to cmd, as --name.
func replicaFlagsSet(cmd *cobra.Command) []string {
	var set []string
	for _, name := range replicaFlagNames {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	return set
}

func (r *replicaOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&r.enabled, "replicate", false, "replicate the bus through NATS JetStream (docs/replication.md): lead when holding the lease, else serve a read-only follower")
	f.StringVar(&r.natsURL, "nats", "", "with --replicate: NATS server URLs, comma-separated (default: an embedded nats-server with storage in DIR.nats)")
	f.StringVar(&r.bus, "replicate-bus", "mmsb", "with --replicate: name of the replicated bus (stream MMSB_LOG_<NAME>)")
	intVar(f, &r.replicas, "replicas", 1, "with --replicate: stream, lease and checkpoint replicas (3 on a three-server cluster)")
	f.DurationVar(&r.leaseTTL, "lease-ttl", 3*time.Second, "with --replicate: leader lease time to live")
	f.BoolVar(&r.followOnly, "follow-only", false, "with --replicate: never lead (a read replica; it waits for a leader to create the stream)")
}

// roleServer is the server of one role's bus.
type roleServer struct {
	srv     *server.Server
	ins     *inspector.Inspector // the web inspector of this role's bus
	handler http.Handler
}

// serveReplicated runs 'mmsb serve --replicate': a replication node
// (docs/replication.md) whose current bus is served on one listener. Each
// role (leader, follower) gets its own server over its own bus: when the
// role ends, that server shuts down (commits in flight finish, watches end
// with a resumable error) before the node closes the bus, and requests
// get 503 until the next role's server is in place. Followers serve reads
// and watches; their bus refuses writes (FailedPrecondition, ErrFollower).
func (a *app) serveReplicated(ctx context.Context, o serveOptions, log *slog.Logger, auth *server.Auth, tlsCfg *tls.Config) error {
	r := o.replica
	if o.dir == "" {
		return usageErr("--replicate needs --dir (a replicated bus lives on disk)")
	}
	// DIR.nats and DIR.diverged-* lie beside DIR: with a trailing slash
	// (a shell's completion adds one), or as ".", they were made inside it.
	o.dir = nodeDirPath(o.dir)
	if o.ticks > 0 {
		return usageErr("--ticks and --replicate together are not supported yet")
	}
	if r.leaseTTL < replicate.MinLeaseTTL || r.leaseTTL > replicate.MaxLeaseTTL {
		return usageErr("--lease-ttl %v: want %v to %v", r.leaseTTL, replicate.MinLeaseTTL, replicate.MaxLeaseTTL)
	}
	if err := checkReplicas(r.replicas); err != nil {
		return err
	}
	if err := checkEmbeddedReplicas(r.natsURL, r.replicas); err != nil {
		return err
	}
	// A leading MMSB_LOG_ is dropped, as 'replicate --bus' and 'follow
	// --stream' drop it: kept, --replicate-bus MMSB_LOG_demo named the
	// stream MMSB_LOG_MMSB_LOG_demo, another bus than the one those
	// commands name with the same words, and a follow-only node waited
	// for it for ever beside the running leader of MMSB_LOG_demo.
	r.bus = strings.TrimPrefix(r.bus, "MMSB_LOG_")
	if err := checkBusName("--replicate-bus", o.replica.bus, r.bus); err != nil {
		return err
	}
	if err := checkNodeDir(o.dir, replicate.Config{Bus: r.bus}.StreamName()); err != nil {
		return err
	}
	// Listen before the node opens the bus: returning on a taken address
	// after the node started would leave its bus closing in the background.
	ln, err := o.listen(tlsCfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // after Serve, already closed by Shutdown
	if r.natsURL == "" {
		l, err := lockEmbeddedStore(o.dir + ".nats")
		if err != nil {
			return err
		}
		defer func() { _ = l.Close() }() // after the server stopped (deferred below)
	}
	nc, stopNATS, url, err := replicate.Connect(r.natsURL, o.dir+".nats")
	if err != nil {
		return err
	}
	defer stopNATS()
	if r.natsURL == "" {
		log.Info("embedded nats-server", "url", url, "store", o.dir+".nats")
	}

	var current atomic.Pointer[roleServer]
	var nodeMetrics atomic.Pointer[replicate.Metrics] // set once the node exists
	var nodeRef atomic.Pointer[replicate.Node]        // set once the node exists
	var roleMu sync.Mutex                             // one role change at a time
	// One registry for the process: /metrics answers from it with a role
	// and without one (a follow-only node waiting for its stream, a role
	// change: the replication metrics can be scraped and alerted on; a
	// 503 failed the scrape), and its counters never go down at a role
	// change (roleMetrics).
	met, err := newRoleMetrics(func() metrics.ReplicationStats {
		if m := nodeMetrics.Load(); m != nil {
			return m.Stats()
		}
		return metrics.ReplicationStats{LagUnknown: true}
	})
	if err != nil {
		return err
	}
	metricsHandler := promhttp.HandlerFor(met.reg, promhttp.HandlerOpts{})
	onRole := func(bus *mmsb.Bus, leader bool) {
		roleMu.Lock()
		defer roleMu.Unlock()
		if old := current.Swap(nil); old != nil {
			sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
			if err := old.srv.Shutdown(sctx); err != nil {
				log.Warn("role change: commits still in flight", "err", err)
			}
			cancel()
			_ = old.ins.Close()
			met.end()
		}
		if bus == nil {
			return
		}
		cfg := o.serverConfig(bus, nil, log)
		cfg.Follower = !leader
		srv, err := server.New(cfg)
		if err != nil {
			log.Error("role change: no server", "err", err)
			return
		}
		ins, err := inspector.New(inspectorOptions(bus, srv, nil, auth, o.maxRequestBytes, o.timeout))
		if err != nil {
			log.Error("role change: no inspector", "err", err)
			return
		}
		mux := srv.Mux(server.HTTPOptions{Auth: auth, MaxRequestBytes: o.maxRequestBytes, Timeout: o.timeout,
			OuterInterceptors: []connect.Interceptor{met.rpc},
			Interceptors:      []connect.Interceptor{ins.Interceptor()}})
		mux.Handle("GET /metrics", metricsHandler)
		ins.Mount(mux)
		h := roleReadiness(mux, leader, func() bool {
			m := nodeMetrics.Load()
			return m == nil || m.LagUnknown.Load()
		})
		if leader {
			h = leaderReadiness(h, func() string { return leaderUnready(natsDownStatus(nc), nodeRef.Load()) })
		}
		met.begin(bus, srv)
		current.Store(&roleServer{srv: srv, ins: ins, handler: h})
		role := "follower"
		if leader {
			role = "leader"
		}
		log.Info("serving", "role", role, "last_lsn", uint64(bus.LastLSN()))
	}
	root := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rs := current.Load(); rs != nil {
			rs.handler.ServeHTTP(w, req)
			return
		}
		if req.URL.Path == "/metrics" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			metricsHandler.ServeHTTP(w, req)
			return
		}
		if req.URL.Path == "/healthz" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			// /healthz says only that the process serves (server.Mux),
			// with a role or without one. A follow-only node waits for
			// its leader as long as none runs: answered 503 meanwhile, a
			// liveness probe restarted it over and over.
			_, _ = fmt.Fprintln(w, "ok")
			return
		}
		if m := nodeMetrics.Load(); m != nil && m.WaitingForStream.Load() {
			// A follow-only node has no bus until a leader makes the
			// stream and its buckets: say which are missing, not
			// "changing roles", which reads as a moment's wait. With
			// the stream there, "no leader has created it" sent the
			// operator after the wrong name.
			http.Error(w, waitingMessage(r.bus, nodeRef.Load()), http.StatusServiceUnavailable)
			return
		}
		http.Error(w, "mmsb: the replication node is changing roles; retry", http.StatusServiceUnavailable)
	})

	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	node, err := replicate.NewNode(ctx, replicate.NodeConfig{
		Config:     replicate.Config{Bus: r.bus, Replicas: r.replicas, LeaseTTL: r.leaseTTL},
		Dir:        o.dir,
		Conn:       nc,
		FollowOnly: r.followOnly,
		OnRole:     onRole,
		Logf:       func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) },
		BusFlag:    "--replicate-bus",
	})
	if err != nil {
		return nodeStartErr(ctx, o.dir, err)
	}
	nodeRef.Store(node)
	nodeMetrics.Store(&node.Metrics)
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- node.Run(nodeCtx) }()

	// The client-certificate check wraps root, not each role's handler:
	// root answers by itself while no role serves (a start, a role
	// change, a follow-only node waiting for its stream), and a client
	// without a certificate read the stream's name there.
	var front http.Handler = root
	if o.clientCA != "" {
		front = server.ClientCertMiddleware(root)
	}
	hs := server.NewHTTPServer(o.frontDoor(front, auth != nil, log), o.maxStreams, log)
	hs.TLSConfig = tlsCfg
	log.Info("listening", "addr", ln.Addr().String(), "dir", o.dir, "replicate", true, "bus", r.bus,
		"replicas", r.replicas, "follow_only", r.followOnly, "tls", tlsCfg != nil, "auth", auth != nil)

	// ctx ends at the first SIGTERM or SIGINT (main's interruptContext,
	// where a second one exits at once, cutting this shutdown short).
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var runErr error
	select {
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-nodeDone:
		nodeDone <- err
		runErr = busInUse(o.dir, err, nodeInUseNext)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Shutdown(sctx) }()
	stopNode() // ends the role: its server shuts down, then the node closes the bus
	if err := <-nodeDone; err != nil && !errors.Is(err, context.Canceled) && runErr == nil {
		runErr = busInUse(o.dir, err, nodeInUseNext)
	}
	if err := <-httpDone; err != nil {
		log.Warn("connections still open at the shutdown deadline", "err", err)
		_ = hs.Close()
	}
	return runErr
}

// roleReadiness answers a role's probes ahead of h (server.Mux, which
// registers both paths): /readyz says that the node accepts writes,
// /readyz/reads that it answers reads. A follower refuses every write
// (FailedPrecondition), so its /readyz is 503; until 2026-12-07 it said
// ok, and a load balancer sent writes there. Its /readyz/reads is 503
// while its lag is unknown (lagUnknown: the stream cannot be read, its
// NATS server gone), and else h's (the bus failed or is shutting down).
// The leader's are h's, behind leaderReadiness: ok on both while it
// accepts writes and can replicate them (TestServeReplicateReadyz,
// TestRoleReadiness).
func roleReadiness(h http.Handler, leader bool, lagUnknown func() bool) http.Handler {
	if leader {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			switch req.URL.Path {
			case "/readyz":
				http.Error(w, "not ready: a read-only follower; writes go to the leader", http.StatusServiceUnavailable)
				return
			case "/readyz/reads":
				if lagUnknown() {
					http.Error(w, "lag unknown: the stream cannot be read", http.StatusServiceUnavailable)
					return
				}
			}
		}
		h.ServeHTTP(w, req)
	})
}

// leaderReadiness answers the leader's /readyz ahead of h: 503 while
// unready says why its writes cannot be replicated ("" while they can:
// leaderUnready). Until 2026-12-07 it answered ok meanwhile, and a load
// balancer kept sending writes there. /readyz/reads stays h's: the
// leader's reads are of its own state. The body names no server address:
// /readyz is served without authentication
// (TestServeReplicateLeaderReadyzNATSDown).
func leaderReadiness(h http.Handler, unready func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/readyz" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			if why := unready(); why != "" {
				http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, req)
	})
}

// leaderUnready says why a leader cannot replicate writes now, "" when
// nothing says it cannot, from what it already knows (no request per
// probe): its NATS connection's status (natsDown, "" while connected),
// at once, while commits are refused before they are logged only once
// it has been down 2 s (replicate's Publisher.Ready: within that the
// connection may be moving to another server); or its lease
// renewals failing (node.LeaseRenewalsFailing), as they do on a cluster
// without its quorum (two of three servers down, the connection to the
// third up), where a commit is logged, waits for an acknowledgement that
// cannot come, fails the bus and ends the role
// (TestServeReplicateLeaderReadyzNoQuorum). node is nil before the node
// exists.
func leaderUnready(natsDown string, node *replicate.Node) string {
	if natsDown != "" {
		return "the leader's NATS connection is " + natsDown + "; writes cannot be replicated until it is back"
	}
	if node == nil {
		return ""
	}
	if since := node.LeaseRenewalsFailing(); !since.IsZero() {
		return fmt.Sprintf("the leader's lease renewals have failed since %s (the NATS cluster may have lost its quorum); writes cannot be replicated until one succeeds", since.UTC().Format(time.RFC3339))
	}
	return ""
}

// natsDownStatus is leaderReadiness's natsDown of nc: its status in lower
// case while it is not connected, "" while it is (draining counts as
// connected, as in nats.go's IsConnected). The status is read once: read
// by IsConnected and then by Status, a reconnect between the two
// answered 503 "the leader's NATS connection is connected"
// (TestLeaderReadinessReadsNATSStatusOnce).
func natsDownStatus(nc interface{ Status() nats.Status }) string {
	switch st := nc.Status(); st {
	case nats.CONNECTED, nats.DRAINING_SUBS, nats.DRAINING_PUBS:
		return ""
	default:
		return strings.ToLower(st.String())
	}
}

// waitingMessage is the 503 body of a follow-only node waiting for what
// node.WaitingFor names (bus: --replicate-bus): the stream, which no
// leader has created (a wrong --replicate-bus, or no leader yet), or only
// the buckets a leader creates beside it.
func waitingMessage(bus string, node *replicate.Node) string {
	stream := replicate.Config{Bus: bus}.StreamName()
	what := ""
	if node != nil {
		what = node.WaitingFor()
	}
	if what == "" || strings.HasPrefix(what, "stream ") {
		return "mmsb: the follow-only node is waiting for the stream " + stream + " (no leader has created it; is --replicate-bus right?); retry"
	}
	return "mmsb: the follow-only node is waiting for " + what + " (the stream " + stream + " exists; a leader creates them beside it); retry"
}
