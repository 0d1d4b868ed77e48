package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

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
	f.IntVar(&o.clients, "clients", 1, "concurrent clients")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to commit")
	f.IntVar(&o.batch, "batch", 1000, "deltas per commit")
	f.IntVar(&o.pages, "pages", 65536, "pages to create and write")
	f.IntVar(&o.pageSize, "page-size", 1024, "page size in bytes")
	f.IntVar(&o.deltaBytes, "delta-bytes", 16, "bytes per delta")
	f.BoolVar(&o.allowRemote, "allow-remote", false, "allow a server that is not on loopback")
	f.BoolVar(&o.grpc, "grpc", false, "speak gRPC (cleartext HTTP/2) instead of Connect")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func (a *app) runLoadtest(ctx context.Context, o loadtestOptions) error {
	if o.clients <= 0 || o.batch <= 0 || o.pages <= 0 || o.duration <= 0 || o.deltaBytes <= 0 ||
		o.pageSize < o.deltaBytes || o.pageSize > mmsb.MaxPageSize || o.clients > 4096 || o.batch > 1<<20 {
		return usageErr("--clients (1..4096), --batch (1..2^20), --pages, --duration and --delta-bytes must be > 0, with --delta-bytes <= --page-size <= 16 MiB")
	}
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr("--server %q: want http://HOST:PORT or https://HOST:PORT", o.server)
	}
	host := u.Hostname()
	if !o.allowRemote && !server.IsLoopback(host) {
		if ips, err := net.LookupIP(host); err != nil || len(ips) == 0 || !ips[0].IsLoopback() {
			return usageErr("--server %s is not on loopback: a load test writes to the bus; give --allow-remote to mean it", o.server)
		}
	}
	opts := []client.Option{client.WithRetries(2, 50*time.Millisecond)}
	if o.token != "" {
		opts = append(opts, client.WithToken(o.token))
	}
	if o.grpc {
		opts = append(opts, client.WithGRPC())
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
			return fmt.Errorf("creating pages: %w", err)
		}
		ids = append(ids, got...)
	}
	st, err := setup.Stats(ctx)
	if err != nil {
		return err
	}

	type clientResult struct {
		lat      []time.Duration
		commits  int
		errors   int
		firstErr error
	}
	results := make([]clientResult, o.clients)
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for ci := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[ci]
			c, err := client.New(o.server, opts...)
			if err != nil {
				r.errors, r.firstErr = 1, err
				return
			}
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			payload := make([]byte, o.batch*o.deltaBytes)
			ds := make([]mmsb.Delta, o.batch)
			for runCtx.Err() == nil {
				for i := range ds {
					p := payload[i*o.deltaBytes : (i+1)*o.deltaBytes]
					for j := range p {
						p[j] = byte(rng.Uint32())
					}
					ds[i] = mmsb.Write(ids[rng.IntN(len(ids))], uint32(rng.IntN(o.pageSize-o.deltaBytes+1)), p)
				}
				t0 := time.Now()
				// The commit itself gets its own deadline: a batch started
				// before the end is measured to completion, not cut off.
				_, err := c.Commit(context.WithoutCancel(runCtx), ds)
				if err != nil {
					r.errors++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				r.lat = append(r.lat, time.Since(t0))
				r.commits++
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := loadtestResult{Server: o.server, Clients: o.clients, Batch: o.batch, Pages: o.pages, PageSize: o.pageSize,
		DeltaBytes: o.deltaBytes, Seconds: elapsed.Seconds(), SyncMode: st.GetSyncMode()}
	var lat []time.Duration
	for _, r := range results {
		res.Commits += r.commits
		res.Errors += r.errors
		if r.firstErr != nil && res.FirstError == "" {
			res.FirstError = r.firstErr.Error()
		}
		lat = append(lat, r.lat...)
	}
	res.Deltas = res.Commits * o.batch
	res.CommitsPerS = float64(res.Commits) / elapsed.Seconds()
	res.DeltasPerS = float64(res.Deltas) / elapsed.Seconds()
	if len(lat) > 0 {
		slices.Sort(lat)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		res.LatencyP50Ms = ms(lat[len(lat)/2])
		res.LatencyP99Ms = ms(lat[min(len(lat)-1, len(lat)*99/100)])
		res.LatencyMaxMs = ms(lat[len(lat)-1])
	}
	if o.asJSON {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "server %s (sync %s): %d clients, batches of %d × %d-byte writes over %d pages of %d B, %.1fs\n",
		res.Server, res.SyncMode, res.Clients, res.Batch, res.DeltaBytes, res.Pages, res.PageSize, res.Seconds)
	fmt.Fprintf(a.stdout, "commits/s %.0f  deltas/s %.0f  latency p50 %.2f ms  p99 %.2f ms  max %.2f ms  errors %d\n",
		res.CommitsPerS, res.DeltasPerS, res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs, res.Errors)
	if res.FirstError != "" {
		fmt.Fprintf(a.stdout, "first error: %s\n", res.FirstError)
	}
	if res.Commits == 0 {
		return &exitError{code: exitFailure, msg: "no commit succeeded"}
	}
	return nil
}
