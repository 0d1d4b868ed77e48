package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.loadtestCmd() }) }

type loadtestOptions struct {
	server, token       string
	clients, batch      int
	pages, pageSize     int
	deltaBytes          int
	duration            time.Duration
	allowRemote, asJSON bool
	grpc                bool
	// ca, clientCert and clientKey: an https:// server's CA and a client
	// certificate (--ca, --client-cert, --client-key); tls is what they
	// make (nil: Go's default, the system's CAs).
	ca, clientCert, clientKey string
	tls                       *tls.Config
	// watchers opens that many watches on all pages during the run and
	// reports delivery latency; stalledWatchers compares commit rates
	// with and without that many watches that never read.
	watchers, stalledWatchers int

	// limitHint, set for a server not on loopback when the run needs
	// more connections or requests than serve allows one client by
	// default, names the server's flags in a failed run's message.
	limitHint string
}

// loadtestLocalHost says whether host (of --server) is this machine:
// mmsb serve does not bound loopback clients per client. A variable so
// that tests, whose servers are all on loopback, can take a host for
// another machine.
var loadtestLocalHost = func(host string) bool {
	if server.IsLoopback(host) {
		return true
	}
	ips, err := net.LookupIP(host)
	return err == nil && len(ips) > 0 && ips[0].IsLoopback()
}

// perClientLimitHint is, for a run against a server on another host, what
// the server's per-client bounds at their defaults will refuse: every
// client and watcher of a load test has its own connection and a request
// in flight, all from this host's address, and mmsb serve closes the
// connections past --max-conns-per-client (64) unanswered and refuses the
// requests past --max-requests-per-client (256). The failures that follow
// (connections reset, resource_exhausted) looked like a server defect.
// Empty when the run fits.
func (o loadtestOptions) perClientLimitHint() string {
	conns := 1 + o.clients + o.watchers + o.stalledWatchers // the setup client's too
	reqs := o.clients + o.watchers + o.stalledWatchers
	if conns <= server.DefaultMaxConnsPerClient && reqs <= server.DefaultMaxRequestsPerClient {
		return ""
	}
	return fmt.Sprintf("this run opens %d connections with up to %d requests in flight, all from one address: a server not on loopback refuses those past its --max-conns-per-client (default %d: connections closed unanswered) and --max-requests-per-client (default %d: resource_exhausted); start it with --max-conns-per-client and --max-requests-per-client of at least %d and %d (or 0), or run fewer --clients and --watchers",
		conns, reqs, server.DefaultMaxConnsPerClient, server.DefaultMaxRequestsPerClient, conns, reqs)
}

// loadtestResult is what `mmsb loadtest --json` prints.
type loadtestResult struct {
	Server       string  `json:"server"`
	Clients      int     `json:"clients"`
	Batch        int     `json:"batch"`
	Pages        int     `json:"pages"`
	PageSize     int     `json:"page_size"`
	DeltaBytes   int     `json:"delta_bytes"`
	Seconds      float64 `json:"seconds"`
	Commits      int     `json:"commits"`
	Deltas       int     `json:"deltas"`
	CommitsPerS  float64 `json:"commits_per_s"`
	DeltasPerS   float64 `json:"deltas_per_s"`
	LatencyP50Ms float64 `json:"latency_p50_ms"`
	LatencyP99Ms float64 `json:"latency_p99_ms"`
	LatencyMaxMs float64 `json:"latency_max_ms"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	SyncMode     string  `json:"sync_mode"`
	// Watchers and Watch: with --watchers, the delivery latency.
	Watchers int             `json:"watchers,omitempty"`
	Watch    *watchLatencies `json:"watch,omitempty"`
	// Phases: with --stalled-watchers, each phase's result.
	StalledWatchers int            `json:"stalled_watchers,omitempty"`
	Phases          []stalledPhase `json:"phases,omitempty"`
}

func (a *app) loadtestCmd() *cobra.Command {
	var o loadtestOptions
	cmd := &cobra.Command{
		Use:   "loadtest --server URL",
		Short: "Commit batches of small deltas to a server from concurrent clients and report throughput and latency",
		Long: `loadtest creates --pages pages of --page-size bytes on the server, then runs
--clients clients for --duration, each committing batches of --batch writes of
--delta-bytes bytes at random offsets of random pages, one batch at a time,
and reports commits/s, deltas/s, commit latency (p50, p99, max) and errors.

It refuses a non-loopback server unless --allow-remote: it writes to the bus.`,
		Example: `  mmsb serve --sync none &
  mmsb loadtest --server http://127.0.0.1:7070 --clients 4 --duration 10s --batch 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runLoadtest(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "http://127.0.0.1:7070", "server URL")
	f.StringVar(&o.token, "token", "", "bearer token (role write)")
	intVar(f, &o.clients, "clients", 1, "concurrent clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to commit (at most 1h: every commit's latency is kept for exact percentiles; run it again for a longer soak)")
	intVar(f, &o.batch, "batch", 1000, "deltas per commit")
	intVar(f, &o.pages, "pages", 65536, "pages to create and write")
	intVar(f, &o.pageSize, "page-size", 1024, "page size in bytes")
	intVar(f, &o.deltaBytes, "delta-bytes", 16, "bytes per delta")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a server that is not on loopback")
	f.BoolVar(&o.grpc, "grpc", false, "speak gRPC (cleartext HTTP/2) instead of Connect")
	f.StringVar(&o.ca, "ca", "", "CA certificates (PEM) to verify an https:// --server's certificate by, instead of the system's")
	f.StringVar(&o.clientCert, "client-cert", "", "client certificate (PEM) for a server with --client-ca; with --client-key")
	f.StringVar(&o.clientKey, "client-key", "", "the --client-cert's private key (PEM)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	intVar(f, &o.watchers, "watchers", 0, "watch all pages with this many watchers (each its own connection) and report delivery latency")
	intVar(f, &o.stalledWatchers, "stalled-watchers", 0, "compare commit rates without and with this many watchers that never read (4 alternating phases)")
	return cmd
}

// maxLoadtestPayload bounds the batches the clients hold at once (also
// the largest request any `mmsb serve` accepts, --max-request-bytes).
const maxLoadtestPayload = maxServeRequestBytes

// Upper bounds of loadtest's flags: past them a value is a typo, not a
// load test. --pages 10^12 was accepted, and the run created pages in
// chunks (the client holding every ID) until the server's page memory
// refused one, after minutes and gigabytes; each commit's latency is
// kept for the percentiles, 8 bytes a commit, so --duration 1000h would
// grow without bound too: an hour at 50,000 commits/s is 1.3 GiB. A soak
// longer than that is a series of runs, each its own measurement
// (docs/cli.md, loadtest).
const (
	maxLoadtestPages     = 1 << 24        // 128 MiB of page IDs in the client
	maxLoadtestPageBytes = int64(1) << 36 // 64 GiB of pages for the server to hold
	maxLoadtestDuration  = time.Hour
)

// check refuses flag values the load test cannot run with, naming the
// first flag that is wrong and its value.
func (o *loadtestOptions) check() error {
	switch {
	case o.clients < 1 || o.clients > 4096:
		return usageErr("--clients must be in 1..4096, got %d", o.clients)
	case o.batch < 1 || o.batch > 1<<20:
		return usageErr("--batch must be in 1..%d, got %d", 1<<20, o.batch)
	case o.pages < 1 || o.pages > maxLoadtestPages:
		return usageErr("--pages must be in 1..%d, got %d", maxLoadtestPages, o.pages)
	case o.duration <= 0 || o.duration > maxLoadtestDuration:
		return usageErr("--duration must be positive and at most %s, got %s", maxLoadtestDuration, o.duration)
	case o.pageSize < 1 || o.pageSize > mmsb.MaxPageSize:
		return usageErr("--page-size must be in 1..%d, got %d", mmsb.MaxPageSize, o.pageSize)
	case o.deltaBytes < 1 || o.deltaBytes > o.pageSize:
		return usageErr("--delta-bytes must be in 1..page size (%d), got %d", o.pageSize, o.deltaBytes)
	case int64(o.clients)*int64(o.batch)*int64(o.deltaBytes) > maxLoadtestPayload:
		// In int64: on a 32-bit platform the int product wrapped (64 ×
		// 1024 × 32768 is 2^31) and passed.
		// Each client fills a batch's payload before its first commit:
		// --batch 1048576 --delta-bytes 16777216 asked for 16 TiB and
		// the process died ("fatal error: runtime: out of memory").
		return usageErr("--clients × --batch × --delta-bytes must be at most %d (1 GiB, each client holds a batch), got %d × %d × %d",
			maxLoadtestPayload, o.clients, o.batch, o.deltaBytes)
	case int64(o.pages)*int64(o.pageSize) > maxLoadtestPageBytes:
		return usageErr("--pages × --page-size must be at most %d (64 GiB for the server to hold), got %d × %d",
			maxLoadtestPageBytes, o.pages, o.pageSize)
	case o.watchers < 0 || o.watchers > 10000:
		return usageErr("--watchers must be in 0..10000, got %d", o.watchers)
	case o.stalledWatchers < 0 || o.stalledWatchers > 10000:
		return usageErr("--stalled-watchers must be in 0..10000, got %d", o.stalledWatchers)
	case o.watchers > 0 && o.stalledWatchers > 0:
		return usageErr("--watchers and --stalled-watchers exclude each other")
	case o.token != "" && !plausibleToken(o.token):
		// Such a token can never authenticate (serve's --token-file
		// refuses it): one with a control character failed at the
		// first call, one with a space after it was sent. The token
		// itself is never quoted.
		return usageErr("--token: want at least %d printable characters without spaces, as every token of serve's --token-file", server.MinTokenLength)
	}
	return nil
}

// plausibleToken says whether tok could be a token of a server's token
// file: valid UTF-8, at least server.MinTokenLength characters, each
// printable and no space.
func plausibleToken(tok string) bool {
	if !utf8.ValidString(tok) || utf8.RuneCountInString(tok) < server.MinTokenLength {
		return false
	}
	return !strings.ContainsFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) })
}

func (a *app) runLoadtest(ctx context.Context, o loadtestOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--server %q: want http://HOST:PORT or https://HOST:PORT", o.server)
	}
	// A port out of range, or a query or fragment the client refuses,
	// failed only when the first call was made (exit 1, "dial tcp:
	// address 99999: invalid port").
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return usageErr("--server %q: port %s is not in 1..65535", o.server, p)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return usageErr("--server %q: want no query or fragment", o.server)
	}
	if err := o.checkTLSFlags(u.Scheme); err != nil {
		return err
	}
	if o.tls, err = o.tlsConfig(); err != nil {
		return err
	}
	host := u.Hostname()
	local := loadtestLocalHost(host)
	if !o.allowRemote && !local {
		return usageErr("--server %s is not on loopback: a load test writes to the bus; give --allow-remote to mean it", o.server)
	}
	if !local {
		if o.limitHint = o.perClientLimitHint(); o.limitHint != "" {
			fmt.Fprintf(a.stderr, "warning: %s\n", o.limitHint)
		}
	}
	opts := []client.Option{client.WithRetries(2, 50*time.Millisecond)}
	if o.token != "" {
		opts = append(opts, client.WithToken(o.token))
	}
	if o.grpc {
		opts = append(opts, client.WithGRPC())
	}
	if o.tls != nil {
		opts = append(opts, client.WithTLS(o.tls))
	}
	setup, err := client.New(o.server, opts...)
	if err != nil {
		return err
	}
	var ids []mmsb.PageID
	for len(ids) < o.pages {
		n := min(o.pages-len(ids), 8192)
		specs := make([]mmsb.PageSpec, n)
		for i := range specs {
			specs[i].Size = o.pageSize
		}
		got, err := setup.CreatePages(ctx, specs)
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) {
				// No server listens there: the reason alone did not
				// say that loadtest needs one running.
				addr := "HOST:PORT"
				if u, perr := url.Parse(o.server); perr == nil && u.Host != "" {
					addr = u.Host
				}
				return fmt.Errorf("creating pages: %w (loadtest measures a running server: start one, mmsb serve --addr %s, or give its URL with --server)", err, termText(addr))
			}
			if ua := (x509.UnknownAuthorityError{}); errors.As(err, &ua) {
				// A server with a certificate of a private CA: the
				// reason alone did not say how to trust it.
				return fmt.Errorf("creating pages: %w (give the CA that signed the server's certificate with --ca)", err)
			}
			return fmt.Errorf("creating pages: %w", err)
		}
		ids = append(ids, got...)
	}
	st, err := setup.Stats(ctx)
	if err != nil {
		return err
	}

	if o.stalledWatchers > 0 {
		return a.runStalledComparison(ctx, o, opts, ids, st.GetSyncMode())
	}
	var fan *fanout
	if o.watchers > 0 {
		if fan, err = startFanout(ctx, o.server, opts, o.watchers, mmsb.LSN(st.GetLastLsn())+1); err != nil {
			return err
		}
	}
	res := runClients(ctx, o, opts, ids, o.duration, fan)
	res.SyncMode = st.GetSyncMode()
	if fan != nil {
		end := fan.lastCommitted()
		if err := fan.finish(ctx, end, 30*time.Second); err != nil {
			return err
		}
		res.Watchers = o.watchers
		res.Watch = fan.latencies()
	}
	if err := loadtestFailure(ctx, &res, o.limitHint); err != nil {
		return err
	}
	if o.asJSON {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "server %s (sync %s): %d clients, batches of %d × %d-byte writes over %d pages of %d B, %.1fs\n",
		res.Server, res.SyncMode, res.Clients, res.Batch, res.DeltaBytes, res.Pages, res.PageSize, res.Seconds)
	fmt.Fprintf(a.stdout, "commits/s %.0f  deltas/s %.0f  latency p50 %.2f ms  p99 %.2f ms  max %.2f ms  errors %d\n",
		res.CommitsPerS, res.DeltasPerS, res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs, res.Errors)
	if w := res.Watch; w != nil {
		fmt.Fprintf(a.stdout, "%d watchers on all pages: delivery latency from the commit's acknowledgement p50 %.2f ms  p99 %.2f ms  max %.2f ms (%.1f%% delivered before the acknowledgement); from the commit's send p50 %.2f ms  p99 %.2f ms\n",
			res.Watchers, w.AckP50Ms, w.AckP99Ms, w.AckMaxMs, 100*w.BeforeAck, w.SendP50Ms, w.SendP99Ms)
	}
	return nil
}

// loadtestFailure is the failure of a run whose figures are no
// measurement, nil for a clean run: a commit failed (after the client's
// retries: throughput and latency then describe a server that was
// refusing work), none succeeded, or an interrupt cut the run short. The
// command then prints no result, in text and --json alike (a failed
// command writes nothing to stdout), and exits 1 with this message,
// followed by hint (perClientLimitHint) when there is one.
func loadtestFailure(ctx context.Context, res *loadtestResult, hint string) error {
	var msg string
	switch {
	case ctx.Err() != nil:
		msg = fmt.Sprintf("interrupted after %.1fs (%d commits): no result", res.Seconds, res.Commits)
	case res.Commits == 0:
		msg = fmt.Sprintf("no commit succeeded: %d commits failed, the first with: %s", res.Errors, res.FirstError)
	case res.Errors > 0:
		msg = fmt.Sprintf("%d of %d commits failed, the first with: %s; no result: a run with failed commits is not a measurement",
			res.Errors, res.Errors+res.Commits, res.FirstError)
	default:
		return nil
	}
	if hint != "" && ctx.Err() == nil {
		msg += "; note: " + hint
	}
	return &exitError{code: exitFailure, msg: msg}
}

// checkTLSFlags refuses, as usage errors, TLS flags a run would not use
// (an http:// --server: scheme) or could not (a certificate without its
// key, a file that is not there).
func (o loadtestOptions) checkTLSFlags(scheme string) error {
	if (o.clientCert == "") != (o.clientKey == "") {
		return usageErr("--client-cert and --client-key go together")
	}
	if scheme != "https" && (o.ca != "" || o.clientCert != "") {
		return usageErr("--ca, --client-cert and --client-key are for an https:// --server, got %s", o.server)
	}
	for _, f := range []struct{ flag, path string }{{"--ca", o.ca}, {"--client-cert", o.clientCert}, {"--client-key", o.clientKey}} {
		if f.path == "" {
			continue
		}
		if err := existingFileFlag(f.flag, f.path); err != nil {
			return err
		}
	}
	return nil
}

// tlsConfig is the TLS configuration of --ca, --client-cert and
// --client-key; nil when none is given. Their errors name the flags, as
// serve's do for its own TLS files.
func (o loadtestOptions) tlsConfig() (*tls.Config, error) {
	if o.ca == "" && o.clientCert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: %s holds no PEM certificate", o.ca)
		}
	}
	if o.clientCert != "" {
		cert, err := tls.LoadX509KeyPair(o.clientCert, o.clientKey)
		if err != nil {
			return nil, fmt.Errorf("--client-cert/--client-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
