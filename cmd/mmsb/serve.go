package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/demo"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/tick"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.serveCmd() }) }

type serveOptions struct {
	dir, addr, sync                   string
	ticks, timeout, shutdownTimeout   time.Duration
	tokenFile                         string
	tlsCert, tlsKey, clientCA         string
	insecure, demo                    bool
	maxRequestBytes                   int
	maxStreams, watchQueue            int
	maxWatchers                       int
	maxAsOfReads                      int
	maxLogQueries                     int
	maxConns, maxConnsPerClient       int
	maxRequests, maxRequestsPerClient int
	allowedHosts                      []string
	gzipMinBytes                      int
	logLevel, logFormat               string
	shared, sharedGroup               bool
	shmDir                            string
	replica                           replicaOptions // --replicate and its flags (serve_replicate.go)
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--dir DIR]",
		Short: "Serve a bus over the network (Connect, gRPC and gRPC-Web on one port)",
		Long: `serve opens the bus in --dir (an in-memory bus when omitted) and serves
mmsb.v1.BusService on --addr: Connect (curl can POST JSON), gRPC and
gRPC-Web, over HTTP/1.1 and HTTP/2 (cleartext HTTP/2 for gRPC clients, or
TLS). /healthz answers while the process runs, /readyz while the bus accepts
writes, /metrics serves Prometheus metrics (docs/metrics.md).

It listens on loopback by default. Any other address needs authentication
(--token-file, or TLS with client certificates: --tls-cert, --tls-key,
--client-ca) or --insecure. Without authentication it answers only
requests addressed to localhost, an IP address, --addr's host or
--allowed-hosts (a guard against DNS rebinding). SIGTERM or SIGINT shuts
down gracefully: stop accepting, finish commits in flight, close watches
with a resumable error, flush the log, close the bus. See docs/server.md.

The web inspector is served at /ui/ (docs/inspector.md), behind the same
auth (the read role suffices). --demo serves an in-memory demo bus with a
few hundred pages, derived pages and a ticking writer.`,
		Example: `  mmsb serve --demo      # an in-memory demo bus; open http://127.0.0.1:7070/ui/
  mmsb serve --dir ./data
  mmsb serve --dir ./data --addr 0.0.0.0:7070 --token-file /etc/mmsb/tokens \
      --tls-cert /etc/mmsb/cert.pem --tls-key /etc/mmsb/key.pem
  mmsb serve --ticks 16ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.replica.flagsSet = replicaFlagsSet(cmd)
			return a.runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "data directory (default: an in-memory bus)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:7070", "listen address (host:port; port 0 picks one)")
	f.StringVar(&o.sync, "sync", "group", "log sync mode: group, always or none")
	f.DurationVar(&o.ticks, "ticks", 0, "run the tick orchestrator with this period (enables Submit; 0: off)")
	f.StringVar(&o.tokenFile, "token-file", "", `bearer tokens, one "ROLE TOKEN" per line (roles read, write, admin; mode 0600)`)
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	f.StringVar(&o.clientCA, "client-ca", "", "CA bundle (PEM) that client certificates must chain to (required for everything but /healthz, /readyz and /metrics)")
	f.BoolVar(&o.insecure, "insecure", false, "allow a non-loopback address without authentication")
	f.BoolVar(&o.demo, "demo", false, "serve an in-memory demo bus with derived pages and a ticking writer (see /ui/)")
	intVar(f, &o.maxRequestBytes, "max-request-bytes", server.DefaultMaxRequestBytes, "largest request message accepted")
	intVar(f, &o.maxStreams, "max-streams", 250, "concurrent streams per HTTP/2 connection")
	intVar(f, &o.maxConns, "max-conns", server.DefaultMaxConns, "open connections; one more serves health probes only while a small reserve has room, else it is closed at once, unanswered")
	intVar(f, &o.maxConnsPerClient, "max-conns-per-client", server.DefaultMaxConnsPerClient, "open connections from one client (an IPv4 address, an IPv6 /64); one more is handled as past --max-conns (0: no per-client bound, behind a proxy)")
	intVar(f, &o.maxRequests, "max-requests", server.DefaultMaxRequests, "requests in flight over all connections, streams included, until their answer is read; the next is refused (503, resource_exhausted); /healthz and /readyz are answered from a reserve of their own")
	intVar(f, &o.maxRequestsPerClient, "max-requests-per-client", server.DefaultMaxRequestsPerClient, "requests in flight from one client (as --max-conns-per-client), streams included; the next is refused (503, resource_exhausted; 0: no per-client bound, behind a proxy)")
	f.StringSliceVar(&o.allowedHosts, "allowed-hosts", nil, "without authentication: host names, besides localhost, IP addresses and --addr's host, that requests may address (comma-separated; * allows any); others get 403 (DNS rebinding guard)")
	intVar(f, &o.gzipMinBytes, "gzip-min-bytes", 0, "gzip response messages of at least this many bytes for clients that accept it (0: never)")
	intVar(f, &o.watchQueue, "watch-queue", 256, "per-watcher queue, in batches of changes, before a slow watcher is demoted")
	intVar(f, &o.maxWatchers, "max-watchers", server.DefaultMaxWatchers, "open watches over all connections; the next one is refused (resource_exhausted)")
	intVar(f, &o.maxAsOfReads, "max-asof-reads", server.DefaultMaxAsOfReads, "Read calls with an as-of LSN replaying at once (each replays a page, or the bus for several pages); others wait")
	intVar(f, &o.maxLogQueries, "max-log-queries", server.DefaultMaxLogQueries, "QueryLog streams (the inspector's too) reading the log at once; the next one is refused (resource_exhausted)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of unary calls that bring none (0: none)")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for calls in flight")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&o.shared, "shared", false, "shared mode: pages in shared memory for local reader processes (mmsb.OpenReader, mmsb read/watch; needs --dir)")
	f.StringVar(&o.shmDir, "shm-dir", "", "with --shared: directory of shared regions (default "+mmsb.DefaultSharedDir+")")
	f.BoolVar(&o.sharedGroup, "shm-group", false, "with --shared: the owner's group may read the region (0640 instead of 0600)")
	o.replica.addFlags(cmd)
	return cmd
}

// Upper bounds of serve's limits: past them a value is a typo, not a
// setting, and would let one caller make the server hold gigabytes (a
// request of --max-request-bytes, a watcher's queue of --watch-queue
// batches made at its start).
const (
	maxServeRequestBytes = 1 << 30
	maxServeStreams      = 1 << 16
	maxServeConns        = 1 << 20
	maxServeRequests     = 1 << 20
	maxServeWatchQueue   = server.MaxWatchQueue
	maxServeWatchers     = 1 << 20
	maxServeAsOfReads    = 1 << 10
	maxServeLogQueries   = 1 << 10
)

// checkLimits refuses limits serve cannot run with, naming the first
// flag that is wrong and its value.
func (o *serveOptions) checkLimits() error {
	for _, l := range []struct {
		flag   string
		v, max int
	}{
		{"--max-request-bytes", o.maxRequestBytes, maxServeRequestBytes},
		{"--max-streams", o.maxStreams, maxServeStreams},
		{"--max-conns", o.maxConns, maxServeConns},
		{"--max-requests", o.maxRequests, maxServeRequests},
		{"--watch-queue", o.watchQueue, maxServeWatchQueue},
		{"--max-watchers", o.maxWatchers, maxServeWatchers},
		{"--max-asof-reads", o.maxAsOfReads, maxServeAsOfReads},
		{"--max-log-queries", o.maxLogQueries, maxServeLogQueries},
	} {
		if l.v < 1 || l.v > l.max {
			return usageErr("%s must be in 1..%d, got %d", l.flag, l.max, l.v)
		}
	}
	// The per-client bounds may be 0: none (behind a proxy every client
	// has the proxy's address).
	for _, l := range []struct {
		flag   string
		v, max int
	}{
		{"--max-conns-per-client", o.maxConnsPerClient, maxServeConns},
		{"--max-requests-per-client", o.maxRequestsPerClient, maxServeRequests},
	} {
		if l.v < 0 || l.v > l.max {
			return usageErr("%s must be in 0..%d (0: no per-client bound), got %d", l.flag, l.max, l.v)
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--ticks", o.ticks}, {"--timeout", o.timeout}, {"--shutdown-timeout", o.shutdownTimeout}} {
		if d.v < 0 {
			return usageErr("%s must not be negative, got %s", d.flag, d.v)
		}
	}
	// A period below tick.MinInterval ran ticks back to back, a core busy
	// on an idle bus (--ticks 1ns, a unit mistyped).
	if o.ticks > 0 && o.ticks < tick.MinInterval {
		return usageErr("--ticks must be 0 (off) or at least %v, got %v", tick.MinInterval, o.ticks)
	}
	if o.gzipMinBytes < 0 {
		return usageErr("--gzip-min-bytes must not be negative, got %d", o.gzipMinBytes)
	}
	for _, h := range o.allowedHosts {
		if err := server.CheckAllowedHost(h); err != nil {
			return usageErr("%v", err)
		}
	}
	return nil
}

// checkNotReplica refuses, as a usage error, serving without --replicate
// a dir that a replication node (replicate, follow, serve --replicate)
// keeps: served alone it took commits that are in no stream, and the next
// node there found its log beyond the stream and set the bus files aside
// as diverged (DIR.diverged-*), so that the commits acknowledged
// meanwhile were no longer in the bus it served.
func checkNotReplica(dir string) error {
	if dir == "" {
		return nil
	}
	for _, name := range replicate.NodeFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Lstat(path); err == nil {
			// The way out is named too: a replica kept when replication
			// ends (its NATS servers gone) could not be served at all, and
			// only removing both files makes a node refuse the directory
			// (a standalone bus) instead of setting its bus aside.
			return usageErr("--dir %s is a replication node's directory (%s): serve it with --replicate and that node's --nats "+
				"and --replicate-bus (and --follow-only for a follow node); served without, its commits are in no stream, and the next node there sets its bus aside as diverged (DIR.diverged-*). "+
				"To take it out of replication for good and serve it alone, remove both %s and %s first: a node then refuses the directory as a standalone bus",
				termText(dir), termText(path), termText(filepath.Join(dir, replicate.NodeFiles[0])), termText(filepath.Join(dir, replicate.NodeFiles[1])))
		}
	}
	return nil
}

// checkPaths refuses, as usage errors naming the flag, paths that can
// never work: they failed with exit 1 and messages that named no flag
// ("mmsb: create X: mkdir X: not a directory" for a --dir that is a file,
// "invalid option: SharedDir ..." for a missing --shm-dir, "bad token
// file: open ..."). A --dir that does not exist yet is made.
func (o *serveOptions) checkPaths() error {
	if o.dir != "" {
		if err := checkOutputDir(o.dir); err != nil {
			return usageErr("--dir %s: %v", o.dir, err)
		}
		// A directory that holds files but no bus is another program's
		// (or a home directory): Open would make a bus among its files.
		if err := requireBusDirToWrite(o.dir); err != nil {
			return err
		}
	}
	if o.shmDir != "" {
		if err := existingDirFlag("--shm-dir", o.shmDir); err != nil {
			return err
		}
	}
	for _, f := range []struct{ flag, path string }{
		{"--token-file", o.tokenFile}, {"--tls-cert", o.tlsCert}, {"--tls-key", o.tlsKey}, {"--client-ca", o.clientCA},
	} {
		if f.path == "" {
			continue
		}
		if err := existingFileFlag(f.flag, f.path); err != nil {
			return err
		}
	}
	return nil
}

func (a *app) runServe(ctx context.Context, o serveOptions) error {
	mode, err := syncFlag(o.sync)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		handler = slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level})
	default:
		return usageErr("--log-format %q: want text or json", o.logFormat)
	}
	log := slog.New(handler)
	if err := o.checkLimits(); err != nil {
		return err
	}
	// Without --replicate its flags would be dropped, and --follow-only
	// (a read replica) would serve a writable bus.
	if !o.replica.enabled && len(o.replica.flagsSet) > 0 {
		verb := "need" // "--replicas needs", "--nats, --replicas need"
		if len(o.replica.flagsSet) == 1 {
			verb = "needs"
		}
		return usageErr("%s %s --replicate", strings.Join(o.replica.flagsSet, ", "), verb)
	}
	if o.shared && o.dir == "" {
		return usageErr("--shared needs --dir (shared mode needs an on-disk bus)")
	}
	if !o.shared && (o.shmDir != "" || o.sharedGroup) {
		return usageErr("--shm-dir and --shm-group need --shared")
	}
	if err := checkListenAddr(o.addr); err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErr("--tls-cert and --tls-key go together")
	}
	if o.clientCA != "" && o.tlsCert == "" {
		return usageErr("--client-ca needs --tls-cert and --tls-key")
	}
	if err := o.checkPaths(); err != nil {
		return err
	}
	var auth *server.Auth
	if o.tokenFile != "" {
		toks, err := server.LoadTokenFile(o.tokenFile)
		if err != nil {
			// Named by its flag, as the TLS files' errors are, and like
			// them a failure (exit 1): the file is there, what it holds
			// or its mode is wrong. It named no flag until 2026-12-07
			// (TestServeTokenFileErrorsNameFlag).
			return fmt.Errorf("--token-file: %w", err)
		}
		auth = server.NewAuth(toks)
	} else if o.clientCA != "" {
		auth = server.NewAuth(nil)
	}
	if err := server.CheckExposure(o.addr, auth != nil, o.insecure); err != nil {
		// A refused combination of flags, nothing attempted: a usage
		// error (exit 2), as the others here; it exited 1
		// (TestServeExposedAddrIsUsageError).
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if auth != nil && len(o.allowedHosts) > 0 {
		return usageErr("--allowed-hosts is for a server without authentication (with --token-file or --client-ca every host is answered)")
	}
	var tlsCfg *tls.Config
	if o.tlsCert != "" {
		if tlsCfg, err = serverTLS(o); err != nil {
			return err
		}
	}
	if o.tokenFile != "" && tlsCfg == nil && !loopbackAddr(o.addr) {
		// The documented way to serve beyond loopback (--token-file)
		// sent every token in the clear, and serve said nothing of it.
		log.Warn("bearer tokens travel in cleartext: --addr is not a loopback address and the server has no TLS, so anyone on the network path can read a token and use it; give --tls-cert and --tls-key, or serve behind a TLS proxy",
			"addr", o.addr)
	}

	if o.replica.enabled {
		if o.demo || o.shared {
			return usageErr("--replicate does not combine with --demo or --shared yet")
		}
		return a.serveReplicated(ctx, o, log, auth, tlsCfg)
	}
	if o.demo && (o.dir != "" || o.ticks > 0) {
		return usageErr("--demo runs its own in-memory bus and ticks: drop --dir and --ticks")
	}
	if err := checkNotReplica(o.dir); err != nil {
		return err
	}
	// Listen before opening the bus: an address that is taken must not
	// leave a new, empty data directory behind.
	ln, err := o.listen(tlsCfg, log)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // after Serve, already closed by Shutdown
	var dm *demo.Demo
	var bus *mmsb.Bus
	if o.demo {
		if dm, err = demo.Start(demo.Options{Sync: mode}); err != nil {
			return err
		}
		serveDemoHook(dm)
		bus = dm.Bus
	} else {
		opts := &mmsb.Options{Sync: mode, Shared: o.shared, SharedDir: o.shmDir, SharedGroup: o.sharedGroup}
		serveOpenHook(opts)
		if bus, err = mmsb.Open(o.dir, opts); err != nil {
			return busInUse(o.dir, err, "one bus has one writer: stop the other mmsb serve or program first, or read the bus beside it with mmsb inspect, read or watch")
		}
	}
	// What recovery changed or passed over, which a restart after a
	// crash or a damaged disk must show: serve said nothing of a torn
	// tail it cut (the commits in it lost where they were not
	// acknowledged as durable) or of a checkpoint that does not load.
	if r := bus.Recovery().Log; r.TornFile != "" {
		log.Warn("recovery truncated a torn tail (an incomplete last record: a crash during a write)",
			"file", r.TornFile, "offset", r.TornOffset, "bytes", r.TornBytes)
	}
	for _, why := range bus.Recovery().SkippedCheckpoint {
		log.Warn("recovery passed over a checkpoint that does not load and "+startedFrom(bus.Recovery())+" (nothing committed is lost; the next checkpoint removes it; damage can mean a failing disk: run mmsb check)",
			"reason", why)
	}
	if lost := lostCommits(bus.Recovery().Log); lost != "" {
		// A loss an earlier Open accepted and failed after
		// (checkpoints/log-mode.lost): this Open's report is the only one.
		log.Warn(lost)
	}
	if r := bus.Recovery().Log; r.CoveredDamage > 0 {
		log.Warn("recovery skipped damaged log records that a checkpoint covers (the state is whole; run mmsb check for the history)",
			"records", r.CoveredDamage, "file", r.CoveredDamageFile, "offset", r.CoveredDamageOffset, "reason", r.CoveredDamageReason)
	}
	closeBus := bus.Close
	if dm != nil {
		closeBus = dm.Close // stops the writer and ticks first
	}
	busClosed := false // closed (or given up on) by the shutdown below
	defer func() {
		if busClosed {
			return
		}
		if err := closeBus(); err != nil {
			log.Error("closing the bus", "err", err)
		}
	}()
	var orch *tick.Orchestrator
	tickDone := make(chan struct{})
	// selfStopped carries why the server stops on its own, with no signal:
	// the orchestrator of --ticks stopped with an error (a failed bus, a
	// commit that panicked), or, without one, the bus failed (a write or
	// fsync failed under a commit of a client). Either is for good: the
	// server stops as on SIGTERM and exits 1 with that error, for a
	// supervisor to restart it. The orchestrator's error was only logged,
	// and the server went on serving a bus that no tick committed to:
	// Submit acknowledged deltas that were never committed (and after a
	// commit panic, the bus whole, /readyz said ready); without --ticks a
	// failed bus refused every write and /readyz said 503, but the process
	// lived on. Both senders send at most once, and the first one read
	// stops the server.
	selfStopped := make(chan selfStop, 2)
	tickCtx, stopTicks := context.WithCancel(context.Background())
	defer stopTicks()
	if dm != nil {
		orch = dm.Ticks // the demo runs it (and closes it)
		close(tickDone)
	} else if o.ticks > 0 {
		if orch, err = tick.New(bus, nil); err != nil {
			return err
		}
		go func() {
			defer close(tickDone)
			if err := orch.Run(tickCtx, o.ticks); err != nil && !errors.Is(err, context.Canceled) {
				selfStopped <- selfStop{"tick orchestrator stopped", err}
			}
		}()
	} else {
		close(tickDone)
	}
	if dm != nil || o.ticks == 0 {
		// The orchestrator of --ticks checks the bus at every tick and
		// stops on its failure (above); without it nothing else would
		// notice. The demo's orchestrator and writer stop without
		// telling serve either (Demo.Err): until 2026-12-07 serve --demo
		// went on serving when they had stopped with an error (a tick
		// whose commit panicked, the bus whole), acknowledging Submits
		// that no tick would commit (TestServeDemoStopsWhenTicksStop).
		failed := func() (string, error) { return "the bus refuses writes for good", bus.Err() }
		if dm != nil {
			failed = func() (string, error) {
				if err := dm.Err(); err != nil {
					return "the demo's tick orchestrator or writer stopped", err
				}
				return "the bus refuses writes for good", bus.Err()
			}
		}
		go watchFailure(tickCtx, failed, busFailurePoll, selfStopped)
	}
	srv, err := server.New(o.serverConfig(bus, orch, log))
	if err != nil {
		return err
	}
	ins, err := inspector.New(inspectorOptions(bus, srv, orch, auth, o.maxRequestBytes, o.timeout))
	if err != nil {
		return err
	}
	defer func() { _ = ins.Close() }()
	reg, rpcMetrics, err := srv.NewMetrics()
	if err != nil {
		return err
	}
	mux := srv.Mux(server.HTTPOptions{Auth: auth, MaxRequestBytes: o.maxRequestBytes, Timeout: o.timeout, GzipMinBytes: o.gzipMinBytes,
		OuterInterceptors: []connect.Interceptor{rpcMetrics},
		Interceptors:      []connect.Interceptor{ins.Interceptor()}})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ins.Mount(mux)
	var root http.Handler = mux
	if o.clientCA != "" {
		root = server.ClientCertMiddleware(mux)
	}
	hs := server.NewHTTPServer(o.frontDoor(root, auth != nil, log), o.maxStreams, log)
	hs.TLSConfig = tlsCfg

	ticks := o.ticks
	if dm != nil {
		ticks = dm.TickInterval // it logged 0s: --ticks is refused with --demo
	}
	log.Info("serving", "addr", ln.Addr().String(), "dir", o.dir, "sync", mode.String(), "tls", tlsCfg != nil,
		"auth", auth != nil, "ticks", ticks, "demo", o.demo, "shared", bus.SharedPath(), "inspector", inspectorURL(ln.Addr().String(), tlsCfg != nil))

	// ctx ends at the first SIGTERM or SIGINT (main's interruptContext,
	// where a second one exits at once, cutting this shutdown short).
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	var stopped *selfStop
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case why := <-selfStopped:
		stopped = &why
		log.Error(why.what+": shutting down", "err", why.err)
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	// Stop accepting and wait for idle connections while the server
	// refuses new commits, waits for those in flight and ends watches.
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Shutdown(sctx) }()
	// The inspector's streams (a browser tab left open) end now, as the
	// server's watches do, instead of holding the shutdown to its deadline.
	_ = ins.Close()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("commits still in flight at the shutdown deadline", "err", err)
	}
	if err := <-httpDone; err != nil {
		log.Warn("connections still open at the shutdown deadline", "err", err)
		_ = hs.Close()
	}
	stopTicks()
	<-tickDone
	settle := func() error {
		if orch != nil && dm == nil {
			// Deltas Submit accepted and no tick committed yet are committed
			// now (the server refuses new ones since its Shutdown): Close
			// dropped them, acknowledged to their clients, at every stop.
			dctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
			if left, err := orch.Drain(dctx); err != nil {
				log.Error("submitted deltas not committed at shutdown", "deltas", left, "err", err)
			}
			cancel()
			_ = orch.Close()
		}
		return bus.Flush(context.Background())
	}
	if stopped != nil {
		// The server stops itself: no signal came, and none will cut a
		// hang short (a first SIGTERM now only cancels a context nothing
		// waits on). A bus whose Commit panicked may still hold its lock,
		// and a failed disk may hang a close: Drain, Flush and Close then
		// blocked for ever and the process, serving nothing, never
		// exited for a supervisor to restart it. They get
		// --shutdown-timeout; past it serve exits without them (the log
		// and checkpoints are as a crash leaves them: recovery reads them).
		busClosed = true
		settled := make(chan error, 1)
		go func() {
			err := settle()
			if cerr := closeBus(); cerr != nil && err == nil {
				err = cerr
			}
			settled <- err
		}()
		timer := time.NewTimer(o.shutdownTimeout)
		defer timer.Stop()
		select {
		case err := <-settled:
			if err != nil {
				// A failed bus fails its flush with the same error: said once.
				log.Error("flush and close at shutdown", "err", err)
			}
		case <-timer.C:
			log.Error("the bus did not flush and close within --shutdown-timeout: exiting without it (recovery reads what is on disk)",
				"timeout", o.shutdownTimeout)
		}
		// The error goes to stderr and the exit status is 1, for a
		// supervisor to restart the server (a commit panic left the bus
		// whole: flushed above).
		return fmt.Errorf("%s, server shut down: %w", stopped.what, stopped.err)
	}
	if err := settle(); err != nil {
		return fmt.Errorf("flush at shutdown: %w", err)
	}
	log.Info("stopped", "last_lsn", uint64(bus.LastLSN()))
	return nil
}

// selfStop is why serve stops on its own (runServe's selfStopped): what
// stopped, for the log and the error, and its error.
type selfStop struct {
	what string
	err  error
}

// busFailurePoll is how often serve without --ticks asks its bus whether
// it failed (Bus.Err: a read lock, no I/O). A failed bus stays failed, so
// a poll misses nothing; it only delays the shutdown by up to this long.
const busFailurePoll = 500 * time.Millisecond

// watchFailure sends on stop, once, what failed and its error when
// failed names one: a bus that refuses writes for good (Bus.Err: it
// failed, or was closed under the server), or the demo's orchestrator or
// writer stopped (demo.Demo.Err); polling every interval until ctx ends
// (the server's shutdown, which closes the bus itself afterwards).
func watchFailure(ctx context.Context, failed func() (string, error), every time.Duration, stop chan<- selfStop) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if what, err := failed(); err != nil {
			if ctx.Err() == nil {
				stop <- selfStop{what, err}
			}
			return
		}
	}
}

// serveOpenHook, set by tests, may change the options serve opens its
// --dir bus with (a filesystem that fails on demand).
var serveOpenHook = func(*mmsb.Options) {}

// serveDemoHook, set by tests, sees the demo serve --demo started (to
// stop its orchestrator under serve).
var serveDemoHook = func(*demo.Demo) {}

// checkListenAddr refuses an --addr that is no HOST:PORT (or whose port
// is out of range or an unknown service name) before anything is opened.
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return usageErr("--addr %q: want HOST:PORT (port 0 picks one): %v", addr, err)
	}
	return nil
}

// loopbackAddr says whether the listen address addr (HOST:PORT) is
// reachable from this machine only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && server.IsLoopback(host)
}

// hostGuard puts server.HostGuard in front of everything serve mounts
// (the RPCs, /ui/, /metrics, the probes) when the server has no
// authentication: a web page whose name rebinds to this address must not
// reach the bus through the browser of someone on this machine. With
// tokens or client certificates such a page has no credential, and every
// Host is answered.
func (o *serveOptions) hostGuard(h http.Handler, authenticated bool) http.Handler {
	if authenticated {
		return h
	}
	return server.HostGuard(h, o.addr, o.allowedHosts)
}

// frontDoor is what serve puts before every handler it mounts: the
// request bounds (--max-requests, --max-requests-per-client), outermost
// so that every request counts, refused ones included, and hostGuard.
func (o *serveOptions) frontDoor(h http.Handler, authenticated bool, log *slog.Logger) http.Handler {
	return server.LimitRequests(o.hostGuard(h, authenticated), o.maxRequests, o.maxRequestsPerClient, log)
}

// listen opens the --addr listener, holding at most --max-conns
// connections open, and --max-conns-per-client from one client (counted
// before TLS: one refused costs no handshake), wrapped in TLS when tlsCfg
// is set.
func (o *serveOptions) listen(tlsCfg *tls.Config, log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", o.addr, err)
	}
	ln = server.LimitConns(ln, o.maxConns, o.maxConnsPerClient, log)
	// Health probes are answered past those bounds, from a small reserve
	// of connections that serve nothing else (docs/server.md).
	if err := server.ReserveProbeConns(ln, server.ProbeConnReserve, server.ProbeConnReservePerClient, server.ProbeConnLife); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	return ln, nil
}

// inspectorURL is where a browser on this machine opens the inspector.
func inspectorURL(addr string, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + addr + inspector.UIPath
}

// serverConfig is the server's configuration from serve's flags, for a
// plain serve and for each term a --replicate node leads alike (that one
// once left --max-watchers out).
func (o *serveOptions) serverConfig(bus *mmsb.Bus, orch *tick.Orchestrator, log *slog.Logger) server.Config {
	return server.Config{Bus: bus, Orchestrator: orch, Logger: log, WatchQueue: o.watchQueue,
		MaxWatchers: o.maxWatchers, MaxAsOfReads: o.maxAsOfReads, MaxLogQueries: o.maxLogQueries}
}

// inspectorOptions puts the inspector's service behind the server's auth
// (its gate too: a call without a valid credential is refused before its
// message is read), request limit, unary deadline (--timeout; 0: none)
// and slots for as-of replays and log queries.
//
// The request limit is the inspector's own (its requests are a few
// numbers and a search string: inspector.DefaultMaxRequestBytes), or
// --max-request-bytes where that is lower, and its refusals name which
// (TestServeInspectorRequestLimitNamed): until 2026-12-07 they named
// neither, the read limit was --max-request-bytes (64 MiB by default)
// and a gzip request inflated up to the inspector's 1 MiB.
func inspectorOptions(bus *mmsb.Bus, srv *server.Server, orch *tick.Orchestrator, auth *server.Auth, maxRequestBytes int, timeout time.Duration) inspector.Options {
	limit, name := maxRequestBytes, "--max-request-bytes"
	if limit > inspector.DefaultMaxRequestBytes {
		limit, name = inspector.DefaultMaxRequestBytes, "the inspector's request bound (--max-request-bytes may only lower it)"
	}
	o := inspector.Options{Bus: bus, Ticks: orch, MaxRequestBytes: limit, MaxRequestBytesName: name,
		AsOfSlot: srv.AsOfSlot, LogQuerySlot: srv.LogQuerySlot}
	var ics []connect.Interceptor
	if auth != nil {
		ics = append(ics, auth)
		o.Gate = auth.Gate
	}
	if timeout > 0 {
		ics = append(ics, server.UnaryTimeout(timeout))
	}
	if len(ics) > 0 {
		o.HandlerOptions = append(o.HandlerOptions, connect.WithInterceptors(ics...))
	}
	return o
}

// serverTLS loads the certificate and, with --client-ca, verifies client
// certificates against it: one of another CA fails the handshake, and
// ClientCertMiddleware refuses a client without one everything but the
// probes and /metrics.
func serverTLS(o serveOptions) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--client-ca: %s holds no PEM certificate", o.clientCA)
		}
		server.ClientCertTLS(cfg, pool)
	}
	return cfg, nil
}
