package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// commitRecord is one acknowledged commit, for delivery latencies.
type commitRecord struct {
	last        mmsb.LSN
	sent, acked time.Time
}

// runClients runs o.clients committing clients for d and returns their
// throughput and latency (SyncMode unset). With fan set, every
// acknowledged commit is recorded in it.
func runClients(ctx context.Context, o loadtestOptions, opts []client.Option, ids []mmsb.PageID, d time.Duration, fan *fanout) loadtestResult {
	type clientResult struct {
		lat      []time.Duration
		commits  int
		errors   int
		firstErr error
	}
	results := make([]clientResult, o.clients)
	runCtx, cancel := context.WithTimeout(ctx, d)
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
			rng := rand.New(rand.NewPCG(uint64(ci), uint64(start.UnixNano())))
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
				info, err := c.Commit(context.WithoutCancel(runCtx), ds)
				if err != nil {
					r.errors++
					if r.firstErr == nil {
						r.firstErr = err
					}
					continue
				}
				t1 := time.Now()
				if fan != nil {
					fan.record(commitRecord{last: info.LastLSN, sent: t0, acked: t1})
				}
				r.lat = append(r.lat, t1.Sub(t0))
				r.commits++
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := loadtestResult{Server: o.server, Clients: o.clients, Batch: o.batch, Pages: o.pages, PageSize: o.pageSize,
		DeltaBytes: o.deltaBytes, Seconds: elapsed.Seconds()}
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
		res.LatencyP50Ms = durMs(lat[len(lat)/2])
		res.LatencyP99Ms = durMs(lat[min(len(lat)-1, len(lat)*99/100)])
		res.LatencyMaxMs = durMs(lat[len(lat)-1])
	}
	return res
}

func durMs(d time.Duration) float64 { return float64(d) / 1e6 }

// fanout is a set of watchers on all pages, each recording when each
// message arrived and the highest LSN it carried, plus the commits they
// are to deliver. Latencies are matched by LSN after the run, so the
// watchers do no more than a real watcher would while it runs (the Go
// client decodes every change).
type fanout struct {
	mu      sync.Mutex
	commits []commitRecord
	seen    []*watchTrace
	errs    chan error
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// watchTrace is one watcher's arrivals, in LSN order.
type watchTrace struct {
	mu      sync.Mutex
	lsn     []mmsb.LSN
	at      []time.Time
	reached mmsb.LSN
}

// startFanout opens n watchers from LSN from, each with its own client
// (connection), and returns once every one has its stream up.
func startFanout(ctx context.Context, url string, opts []client.Option, n int, from mmsb.LSN) (*fanout, error) {
	wctx, cancel := context.WithCancel(ctx)
	f := &fanout{errs: make(chan error, n), cancel: cancel}
	up := make(chan struct{}, n)
	for range n {
		c, err := client.New(url, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		tr := &watchTrace{}
		f.seen = append(f.seen, tr)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			first := true
			err := c.Watch(wctx, client.WatchOptions{FromLSN: from}, func(ev client.WatchEvent) error {
				now := time.Now()
				if first {
					up <- struct{}{}
					first = false
				}
				if len(ev.Changes) == 0 {
					return nil
				}
				last := ev.Changes[len(ev.Changes)-1].LSN
				tr.mu.Lock()
				tr.lsn = append(tr.lsn, last)
				tr.at = append(tr.at, now)
				tr.reached = last
				tr.mu.Unlock()
				return nil
			})
			if first {
				up <- struct{}{}
			}
			if err != nil && wctx.Err() == nil {
				f.errs <- err
			}
		}()
	}
	for range n {
		select {
		case <-up:
		case err := <-f.errs:
			cancel()
			return nil, fmt.Errorf("opening watchers: %w", err)
		case <-ctx.Done():
			cancel()
			return nil, ctx.Err()
		}
	}
	return f, nil
}

func (f *fanout) record(c commitRecord) {
	f.mu.Lock()
	f.commits = append(f.commits, c)
	f.mu.Unlock()
}

// lastCommitted is the highest LSN acknowledged to a client.
func (f *fanout) lastCommitted() mmsb.LSN {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m mmsb.LSN
	for _, c := range f.commits {
		m = max(m, c.last)
	}
	return m
}

// finish waits until every watcher has received LSN end (or timeout),
// then closes them.
func (f *fanout) finish(ctx context.Context, end mmsb.LSN, timeout time.Duration) error {
	defer func() { f.cancel(); f.wg.Wait() }()
	deadline := time.Now().Add(timeout)
	for {
		behind := 0
		for _, tr := range f.seen {
			tr.mu.Lock()
			if tr.reached < end {
				behind++
			}
			tr.mu.Unlock()
		}
		if behind == 0 {
			return nil
		}
		select {
		case err := <-f.errs:
			return fmt.Errorf("a watcher failed: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d watchers had not received LSN %d %v after the last commit", behind, len(f.seen), end, timeout)
		}
	}
}

// watchLatencies is the delivery latency over every (commit, watcher)
// pair: from the commit's acknowledgement at its client (negative values,
// a change a watcher got before the committer's response arrived, count
// as 0 and in BeforeAck) and from the commit's send.
type watchLatencies struct {
	Samples   int     `json:"samples"`
	AckP50Ms  float64 `json:"from_ack_p50_ms"`
	AckP99Ms  float64 `json:"from_ack_p99_ms"`
	AckMaxMs  float64 `json:"from_ack_max_ms"`
	BeforeAck float64 `json:"delivered_before_ack"`
	SendP50Ms float64 `json:"from_send_p50_ms"`
	SendP99Ms float64 `json:"from_send_p99_ms"`
}

func (f *fanout) latencies() *watchLatencies {
	var fromAck, fromSend []time.Duration
	before := 0
	for _, tr := range f.seen {
		for _, c := range f.commits {
			i := sort.Search(len(tr.lsn), func(i int) bool { return tr.lsn[i] >= c.last })
			if i == len(tr.lsn) {
				continue // finish made sure this does not happen
			}
			d := tr.at[i].Sub(c.acked)
			if d < 0 {
				before++
				d = 0
			}
			fromAck = append(fromAck, d)
			fromSend = append(fromSend, tr.at[i].Sub(c.sent))
		}
	}
	w := &watchLatencies{Samples: len(fromAck)}
	if len(fromAck) == 0 {
		return w
	}
	slices.Sort(fromAck)
	slices.Sort(fromSend)
	pct := func(s []time.Duration, p int) float64 { return durMs(s[min(len(s)-1, len(s)*p/100)]) }
	w.AckP50Ms, w.AckP99Ms, w.AckMaxMs = pct(fromAck, 50), pct(fromAck, 99), durMs(fromAck[len(fromAck)-1])
	w.SendP50Ms, w.SendP99Ms = pct(fromSend, 50), pct(fromSend, 99)
	w.BeforeAck = float64(before) / float64(len(fromAck))
	return w
}

// stalledPhase is one phase of a --stalled-watchers comparison.
type stalledPhase struct {
	Stalled    int     `json:"stalled_watchers"`
	DeltasPerS float64 `json:"deltas_per_s"`
	P99Ms      float64 `json:"latency_p99_ms"`
	Errors     int     `json:"errors"`
	// WatchersAtEnd is the server's count of open watches at the end of
	// the phase (the stalled ones are still open).
	WatchersAtEnd uint64 `json:"watchers_at_end"`
}

// openStalled opens n watches on all pages from LSN from that never read
// a message: the server's sends to them block once the connection's
// buffers are full (the receive buffer is made small). Each has its own
// HTTP client, so its own connection, with o's TLS configuration and
// token (--ca, --client-cert, --token): without them a server with TLS
// or tokens refused them, and they stalled nothing.
func openStalled(ctx context.Context, o loadtestOptions, n int, from mmsb.LSN) error {
	for range n {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, Control: smallReceiveBuffer}).DialContext
		if o.tls != nil {
			tr.TLSClientConfig = o.tls.Clone()
		}
		rpc := mmsbv1connect.NewBusServiceClient(&http.Client{Transport: tr}, o.server)
		req := connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(from)})
		if o.token != "" {
			req.Header().Set("Authorization", "Bearer "+o.token)
		}
		stream, err := rpc.Watch(ctx, req)
		if err != nil {
			return err
		}
		// Never Receive; the stream ends with ctx.
		go func() { <-ctx.Done(); _ = stream.Close(); tr.CloseIdleConnections() }()
	}
	return nil
}

// runStalledComparison runs four phases of duration/4, alternating
// without and with o.stalledWatchers stalled watchers, and reports each
// phase's commit rate.
func (a *app) runStalledComparison(ctx context.Context, o loadtestOptions, opts []client.Option, ids []mmsb.PageID, mode string) error {
	probe, err := client.New(o.server, opts...)
	if err != nil {
		return err
	}
	res := loadtestResult{Server: o.server, Clients: o.clients, Batch: o.batch, Pages: o.pages, PageSize: o.pageSize,
		DeltaBytes: o.deltaBytes, SyncMode: mode, StalledWatchers: o.stalledWatchers}
	for i := range 4 {
		n := 0
		if i%2 == 1 {
			n = o.stalledWatchers
		}
		pctx, cancel := context.WithCancel(ctx)
		if n > 0 {
			st, err := probe.Stats(ctx)
			if err != nil {
				cancel()
				return err
			}
			if err := openStalled(pctx, o, n, mmsb.LSN(st.GetLastLsn())+1); err != nil {
				cancel()
				return fmt.Errorf("opening stalled watchers: %w", err)
			}
		}
		r := runClients(ctx, o, opts, ids, o.duration/4, nil)
		st, err := probe.Stats(ctx)
		cancel()
		if err != nil {
			return err
		}
		res.Phases = append(res.Phases, stalledPhase{Stalled: n, DeltasPerS: r.DeltasPerS, P99Ms: r.LatencyP99Ms, Errors: r.Errors, WatchersAtEnd: st.GetWatchers()})
		res.Seconds += r.Seconds
		res.Commits += r.Commits
		res.Deltas += r.Deltas
		res.Errors += r.Errors
		if res.FirstError == "" {
			res.FirstError = r.FirstError
		}
		if n > 0 && st.GetWatchers() < uint64(n) {
			return fmt.Errorf("phase %d: the server counts %d open watches, fewer than the %d stalled ones", i, st.GetWatchers(), n)
		}
	}
	res.CommitsPerS = float64(res.Commits) / res.Seconds
	res.DeltasPerS = float64(res.Deltas) / res.Seconds
	if err := loadtestFailure(ctx, &res, o.limitHint); err != nil {
		return err
	}
	if o.asJSON {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "server %s (sync %s): %d clients, batches of %d × %d-byte writes over %d pages of %d B, 4 phases of %.1fs\n",
		res.Server, res.SyncMode, res.Clients, res.Batch, res.DeltaBytes, res.Pages, res.PageSize, (o.duration / 4).Seconds())
	var with, without float64
	for i, p := range res.Phases {
		fmt.Fprintf(a.stdout, "phase %d: %d stalled watchers  deltas/s %.0f  p99 %.2f ms  errors %d  open watches at end %d\n",
			i+1, p.Stalled, p.DeltasPerS, p.P99Ms, p.Errors, p.WatchersAtEnd)
		if p.Stalled > 0 {
			with += p.DeltasPerS / 2
		} else {
			without += p.DeltasPerS / 2
		}
	}
	fmt.Fprintf(a.stdout, "deltas/s without %.0f, with %d stalled watchers %.0f (ratio %.2f)  errors %d\n",
		without, o.stalledWatchers, with, with/max(without, 1), res.Errors)
	return nil
}
