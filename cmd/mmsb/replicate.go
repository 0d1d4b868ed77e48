package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unsafe"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/replicate"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.replicateCmd() }) }

// loadFlags describe the demonstration workload a leader commits.
type loadFlags struct {
	load       bool
	batch      int
	committers int
	pages      int
	rate       float64
	duration   time.Duration
}

func (l *loadFlags) add(cmd *cobra.Command) {
	intVar(cmd.Flags(), &l.batch, "batch", 1000, fmt.Sprintf("deltas per commit (16 bytes each; at most %d, what one replicated record carries)", maxLoadBatch))
	intVar(cmd.Flags(), &l.committers, "committers", 8, fmt.Sprintf("concurrent committing goroutines (at most %d)", maxLoadCommitters))
	intVar(cmd.Flags(), &l.pages, "pages", 4096, "pages of 64 bytes the workload writes (as many as this machine's memory holds)")
	cmd.Flags().Float64Var(&l.rate, "rate", 0, "target deltas/s over all committers (0: as fast as possible)")
	cmd.Flags().DurationVar(&l.duration, "duration", 0, "stop after this long (0: until interrupted)")
}

// Bounds of the load flags, from what a replicated bus takes.
const (
	// loadPageSize is the size of the load's pages, and loadDataBytes
	// that of each delta's write.
	loadPageSize  = 64
	loadDataBytes = 16
	// maxLoadCommitters bounds --committers: the most publishes a leader
	// keeps awaiting acknowledgement (replicate.Config.MaxInFlight's
	// limit), so more committers add no concurrency, only goroutines and
	// batches held.
	maxLoadCommitters = 1 << 16
)

// maxLoadBatch bounds --batch: the most of the load's deltas (at their
// smallest encoding: page 1, offset 0) that one record of a replicated
// bus carries (replicate.DefaultMaxRecordBytes, which the commands leave
// as it is, less the largest record header). A larger batch could never
// commit (ErrRecordTooLarge), and each committer allocated it first. A
// server whose max_payload is smaller lowers the limit further (a
// default nats-server: 1 MiB); that is known only once connected, and the
// first commit then fails naming it.
var maxLoadBatch = func() int {
	d := mmsb.Write(1, 0, make([]byte, loadDataBytes))
	header := len(record.AppendHeader(nil, math.MinInt64))
	return (replicate.DefaultMaxRecordBytes - header) / len(record.AppendDelta(nil, &d))
}()

// loadHeldDeltaBytes is the least memory one delta of a committer's batch
// holds while it is built and committed: the Delta, its one Run and the
// run's bytes.
const loadHeldDeltaBytes = int64(unsafe.Sizeof(mmsb.Delta{}) + unsafe.Sizeof(delta.Run{}) + loadDataBytes)

// loadMemoryLimit is the memory the load's batches must fit in: the
// machine's (page.PhysicalMemory: RAM, or the cgroup's memory.max when
// smaller; 0 where unknown). A variable for tests.
var loadMemoryLimit = page.PhysicalMemory

// check refuses flags that shape no load, or one that could never run
// (a batch no record carries, more memory than the machine has), naming
// the first one wrong, its value and its bound, before anything is
// allocated. No flag asks for a number of commits: a load commits until
// --duration (or an interrupt) ends it, so one that committed nothing is
// a failure of the run ("load: no commit"), not of its flags.
func (l *loadFlags) check() error {
	for _, f := range []struct {
		name     string
		value    int
		max      int
		whyBound string
	}{
		{"--batch", l.batch, maxLoadBatch, fmt.Sprintf("the %d-byte record a replicated bus carries holds no more of these deltas", replicate.DefaultMaxRecordBytes)},
		{"--committers", l.committers, maxLoadCommitters, "the most publishes a leader keeps in flight"},
	} {
		if f.value < 1 || f.value > f.max {
			return usageErr("%s %d: want 1..%d (%s)", f.name, f.value, f.max, f.whyBound)
		}
	}
	if l.pages < 1 {
		return usageErr("--pages %d: must be at least 1", l.pages)
	}
	if err := checkPageMemory("--pages", l.pages, loadPageSize, false); err != nil {
		return err
	}
	// Every committer holds a batch: their product is bounded by the
	// memory (each flag alone is at most 2^16 and 2^19 here, so the
	// product does not overflow).
	if need := int64(l.committers) * int64(l.batch) * loadHeldDeltaBytes; need > 0 {
		if limit := loadMemoryLimit(); limit > 0 && need > limit {
			return usageErr("--committers %d × --batch %d: %s of deltas held at once (at least %d bytes each), more than the %s of this machine",
				l.committers, l.batch, humanBytes(need), loadHeldDeltaBytes, humanBytes(limit))
		}
	}
	if l.rate < 0 || math.IsNaN(l.rate) || math.IsInf(l.rate, 0) {
		return usageErr("--rate %v: must be a finite number of deltas/s, not negative (0: as fast as possible)", l.rate)
	}
	if l.duration < 0 {
		return usageErr("--duration %v: must not be negative (0: until interrupted)", l.duration)
	}
	return nil
}

// interval is the time between two commits of one committer under --rate
// (0: none), saturated: a tiny --rate overflowed time.Duration to a
// negative interval, which paced nothing.
func (l *loadFlags) interval() time.Duration {
	if l.rate <= 0 {
		return 0
	}
	d := float64(time.Second) * float64(l.batch) * float64(l.committers) / l.rate
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

func (a *app) replicateCmd() *cobra.Command {
	var f replicationFlags
	var l loadFlags
	cmd := &cobra.Command{
		Use:   "replicate --dir DIR [--nats URL]",
		Short: "Run a replication node that leads when it holds the lease (optionally committing a demo load)",
		Long: `replicate runs one node of a replicated bus (docs/replication.md). Without
--nats it starts an embedded nats-server with JetStream storage in DIR.nats
(sync_interval always) and prints the URL followers join with. The node
follows the stream until the leader lease (a JetStream key/value entry with a
TTL) is free, catches up, then leads: every commit is published to the stream
and acknowledged only once the stream stored it (sync mode replicated), with
checkpoints archived to the object store and the stream trimmed below them.

With --load the leader commits batches of --batch 16-byte deltas from
--committers goroutines until --duration (or, with --duration 0, an
interrupt) ends the run, then prints its commits, deltas/s and commit latency
(an interrupt before --duration prints none and exits 1); the node prints a
status line each --status-every. The network server (mmsb serve) embeds the
same node.`,
		Example: `  mmsb replicate --dir ./a --load --duration 30s
  mmsb replicate --dir ./b --nats nats://127.0.0.1:4222 --replicas 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			if err := l.check(); err != nil {
				return err
			}
			// Without --load these would be dropped: the node would run
			// and commit nothing.
			if !l.load {
				var set []string
				for _, name := range []string{"batch", "committers", "pages", "rate"} {
					if cmd.Flags().Changed(name) {
						set = append(set, "--"+name)
					}
				}
				if len(set) > 0 {
					verb := "shape"
					if len(set) == 1 {
						verb = "shapes"
					}
					return usageErr("%s %s the demonstration load: give --load too", strings.Join(set, ", "), verb)
				}
			}
			ctx := cmd.Context()
			if l.duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, l.duration)
				defer cancel()
			}
			// runCtx ends with --duration (DeadlineExceeded) or, first,
			// with an interrupt (Canceled).
			runCtx := ctx
			var onLeader func(context.Context, *replicate.Node)
			var loadErr atomic.Pointer[error]
			// What the load committed over every leader term, and why the
			// last term committed nothing: a run that committed nothing
			// fails (it printed "load: 0 commits ..." and exited 0).
			var committed atomic.Int64
			var noCommit atomic.Pointer[string]
			if l.load {
				onLeader = func(ctx context.Context, n *replicate.Node) {
					bus := n.Leader()
					if bus == nil {
						return
					}
					term0, _ := n.LastLead()
					st, err := runLoad(ctx, bus, l, nil)
					err = commitCutByRunEnd(runCtx, err)
					if err == nil && l.duration > 0 && errors.Is(runCtx.Err(), context.Canceled) {
						// An interrupt ended the load (and the role)
						// before its --duration: its figures, of a
						// shorter run, looked like the run asked for
						// (exit 0), as an interrupted bench's would.
						err := fmt.Errorf("%w after %v of --duration %v (%d commits): no result",
							errLoadInterrupted, st.elapsed.Round(time.Millisecond), l.duration, st.commits)
						fmt.Fprintf(a.stderr, "%v\n", err)
						loadErr.CompareAndSwap(nil, &err)
						return
					}
					if term, ended := n.LastLead(); err == nil && (ended != nil || term != term0) {
						// The role ended under the load and ended its
						// context first: the commit in flight then
						// reports the context, not the lost role, and
						// the figures (cut short) looked like a run.
						err = errRoleEnded
					}
					if err != nil {
						// Figures of a load that failed midway are no
						// measurement: the failure goes to stderr and
						// decides the exit status (1: the load asked
						// for did not run to its end).
						err = loadFailure(ctx, n, term0, st.commits, err, cfg.LeaseTTL)
						fmt.Fprintf(a.stderr, "%v\n", err)
						loadErr.CompareAndSwap(nil, &err)
						return
					}
					committed.Add(int64(st.commits))
					if st.commits == 0 {
						// Figures of zeros are no measurement either.
						why := l.noCommitWhy(st.elapsed)
						noCommit.Store(&why)
						return
					}
					fmt.Fprintf(a.stdout, "load: %d commits, %d deltas, %.0f deltas/s, commit p50 %s p99 %s\n",
						st.commits, st.deltas, st.deltasPerSec(), shortDuration(int64(st.pct(0.50))), shortDuration(int64(st.pct(0.99))))
				}
			}
			err = a.runNode(ctx, f, cfg, false, onLeader)
			if p := loadErr.Load(); err == nil && p != nil {
				return &exitError{code: exitFailure, msg: (*p).Error()}
			}
			if err == nil && l.load && committed.Load() == 0 {
				why := fmt.Sprintf("the node never led before the run ended (%s)", l.endText())
				if p := noCommit.Load(); p != nil {
					why = *p
				}
				return &exitError{code: exitFailure, msg: "load: no commit: " + why}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&f.natsURL, "nats", "", "NATS server URLs, comma-separated (default: start an embedded server)")
	cmd.Flags().BoolVar(&l.load, "load", false, "while leading, commit a demonstration load")
	f.add(cmd, "bus")
	l.add(cmd)
	cmd.AddCommand(a.replicateBenchCmd())
	return cmd
}

// Why a demonstration load stopped before its end.
var (
	// errLoadLeaseLost: the node lost the leader lease and stepped down
	// (its bus refuses commits).
	errLoadLeaseLost = errors.New("the node lost the leader lease and stepped down")
	// errRoleEnded: the leader role ended while the load ran.
	errRoleEnded = errors.New("the leader role ended during the load")
	// errLoadInterrupted: an interrupt ended a load before its --duration.
	errLoadInterrupted = errors.New("load interrupted")
)

// commitCutByRunEnd returns nil for a commit that failed with ErrClosed
// after the run ended (an interrupt, or --duration): the node closes the
// bus as the run's context ends, and a committer can see the closed bus
// before the cancellation reaches the role's context (a child, canceled a
// moment later). The load then failed ("load failed after 13 commits:
// mmsb: bus closed", exit 1) instead of ending as interrupted
// (TestCommitCutByRunEnd; seen in CI, once). Any other error, or a bus
// closed while the run goes on (a lost role), is returned.
func commitCutByRunEnd(runCtx context.Context, err error) error {
	if runCtx.Err() != nil && errors.Is(err, mmsb.ErrClosed) {
		return nil
	}
	return err
}

// endText says what ends a run: --duration, or an interrupt.
func (l *loadFlags) endText() string {
	if l.duration > 0 {
		return fmt.Sprintf("--duration %v", l.duration)
	}
	return "interrupted"
}

// noCommitWhy says why a load that ran for elapsed committed nothing.
func (l *loadFlags) noCommitWhy(elapsed time.Duration) string {
	if iv := l.interval(); iv > 0 && elapsed < iv {
		return fmt.Sprintf("at --rate %v with --batch %d and --committers %d a committer's first commit is due after %v, and the run ended (%s) %v after the load began",
			l.rate, l.batch, l.committers, iv, l.endText(), elapsed.Round(time.Millisecond))
	}
	return fmt.Sprintf("the run ended (%s) %v after the load began, before its first commit completed", l.endText(), elapsed.Round(time.Millisecond))
}

// loadFailure describes a load that failed after commits commits with err,
// in the leader role of term term0. A commit fails when the role ends
// under it (the lease was lost, another leader fenced it): then the error
// it got ("bus closed", "bus failed") does not say why. loadFailure waits
// until the role ended (ctx, which ends with it) or leaseTTL passed (the
// node notices a lost lease within that), and names the reason the node
// gives (LastLead): for a lost lease, the node, the lease and the term.
func loadFailure(ctx context.Context, n *replicate.Node, term0 uint64, commits int, err error, leaseTTL time.Duration) error {
	if leaseTTL <= 0 {
		leaseTTL = 3 * time.Second // replicate.Config's default
	}
	t := time.NewTimer(leaseTTL)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	term, ended := n.LastLead()
	if term != term0 {
		// Another role began since: what ended term0's is gone.
		ended = nil
	}
	switch {
	case errors.Is(ended, replicate.ErrLeaseLost):
		return fmt.Errorf("load stopped after %d commits: %w (%w; the commit in flight: %v)", commits, errLoadLeaseLost, ended, err) //nolint:errorlint // the commit's error is the symptom, quoted
	case errors.Is(err, replicate.ErrLeaseLost):
		return fmt.Errorf("load stopped after %d commits: %w (node %s, term %d): %w", commits, errLoadLeaseLost, n.ID(), term0, err)
	case ended != nil:
		return fmt.Errorf("load failed after %d commits: the node stopped leading term %d: %w (the commit in flight: %v)", commits, term0, ended, err) //nolint:errorlint // the commit's error is the symptom, quoted
	case errors.Is(err, errRoleEnded):
		return fmt.Errorf("load failed after %d commits: %w (term %d)", commits, err, term0)
	}
	return fmt.Errorf("load failed after %d commits: %w", commits, err)
}

// loadStats are a load run's figures.
type loadStats struct {
	mu       sync.Mutex
	commits  int
	deltas   int
	lat      []time.Duration
	elapsed  time.Duration
	firstErr error
}

func (s *loadStats) deltasPerSec() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.deltas) / s.elapsed.Seconds()
}

func (s *loadStats) pct(p float64) time.Duration { return percentile(s.lat, p) }

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	c := append([]time.Duration(nil), d...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	i := int(p * float64(len(c)-1))
	return c[i]
}

// runLoad creates the workload's pages if missing, then commits until ctx
// ends or a commit fails. acked, when set, is called with each
// acknowledged commit and the time it was acknowledged.
func runLoad(ctx context.Context, bus *mmsb.Bus, l loadFlags, acked func(mmsb.CommitInfo, time.Time)) (*loadStats, error) {
	st := &loadStats{}
	// Created in chunks as they are found missing: the list was sized
	// from --pages up front.
	const chunk = 4096
	specs := make([]mmsb.PageSpec, 0, min(l.pages, chunk))
	for i := 0; i < l.pages; i++ {
		id := mmsb.PageID(i + 1)
		if _, err := bus.Page(id); err != nil {
			specs = append(specs, mmsb.PageSpec{ID: id, Size: loadPageSize})
		}
		if len(specs) == chunk || i == l.pages-1 && len(specs) > 0 {
			if _, err := bus.CreatePages(ctx, specs); err != nil {
				return st, err
			}
			specs = specs[:0]
		}
	}
	interval := l.interval()
	var seq atomic.Uint64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < l.committers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ds := make([]mmsb.Delta, l.batch)
			data := make([]byte, loadDataBytes)
			next := time.Now()
			for ctx.Err() == nil {
				if interval > 0 {
					next = next.Add(interval)
					// The wait ends with ctx: at a low --rate it
					// outlasted --duration (a sleep of one interval).
					if d := time.Until(next); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-ctx.Done():
							t.Stop()
							return
						case <-t.C:
						}
					}
				}
				s := seq.Add(1)
				for k := range ds {
					x := s*2654435761 + uint64(k)*40503
					data[0], data[1], data[2] = byte(x), byte(x>>8), byte(w)
					ds[k] = mmsb.Write(mmsb.PageID(x%uint64(l.pages)+1), uint32((x>>20)%4)*16, append([]byte(nil), data...))
				}
				t0 := time.Now()
				info, err := bus.Commit(ctx, ds)
				now := time.Now()
				st.mu.Lock()
				if err != nil {
					if st.firstErr == nil && ctx.Err() == nil {
						st.firstErr = err
					}
					st.mu.Unlock()
					return
				}
				st.commits++
				st.deltas += len(ds)
				st.lat = append(st.lat, now.Sub(t0))
				st.mu.Unlock()
				if acked != nil {
					acked(info, now)
				}
			}
		}(w)
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	return st, st.firstErr
}

// replBenchResult is what 'mmsb replicate bench --json' prints.
type replBenchResult struct {
	Replicas      int     `json:"replicas"`
	Batch         int     `json:"batch"`
	Committers    int     `json:"committers"`
	RateTarget    float64 `json:"rate_target_deltas_per_sec"`
	Commits       int     `json:"commits"`
	DeltasPerSec  float64 `json:"deltas_per_sec"`
	CommitP50NS   int64   `json:"commit_p50_ns"`
	CommitP99NS   int64   `json:"commit_p99_ns"`
	LagP50NS      int64   `json:"follower_lag_p50_ns"`
	LagP99NS      int64   `json:"follower_lag_p99_ns"`
	LagSamples    int     `json:"follower_lag_samples"`
	HashesEqual   bool    `json:"follower_state_hash_equal"`
	PublishP99NS  int64   `json:"-"`
	DurationSec   float64 `json:"duration_sec"`
	FollowerLSN   uint64  `json:"follower_lsn"`
	LeaderLSN     uint64  `json:"leader_lsn"`
	LoadAverage1m string  `json:"load_average_1m"`
}

func (a *app) replicateBenchCmd() *cobra.Command {
	var l loadFlags
	var replicas int
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure replicated commits on loopback: embedded servers, a leader and a follower in this process",
		Long: `bench starts --replicas embedded nats-servers on loopback (one: R1; three: an R3
cluster) with storage in a temporary directory, a leader node and a follower
node in this process, and commits batches of --batch 16-byte deltas in sync
mode replicated from --committers goroutines for --duration. It prints the
throughput, the commit latency (p50, p99), and the follower lag: the time from
a commit's acknowledgement on the leader to the follower having applied it
(0 when the follower applied it first). At the end it checks that the
follower's state hash equals the leader's. Use --rate to measure the lag
below the maximum rate.`,
		Example: `  mmsb replicate bench --replicas 1 --duration 10s
  mmsb replicate bench --replicas 3 --duration 10s --rate 200000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := l.check(); err != nil {
				return err
			}
			if replicas != 1 && replicas != 3 {
				return usageErr("--replicas %d: want 1 or 3", replicas)
			}
			if l.duration <= 0 {
				l.duration = 10 * time.Second
			}
			r, err := runReplicationBench(cmd.Context(), replicas, l)
			if err != nil {
				return err
			}
			return a.reportReplBench(r, jsonOut)
		},
	}
	intVar(cmd.Flags(), &replicas, "replicas", 1, "1 (one embedded server, R1) or 3 (three-server cluster, R3)")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object instead of text")
	l.add(cmd)
	// bench always ends: its --duration 0 means the default 10 s, not "until interrupted".
	cmd.Flags().Lookup("duration").Usage = "how long to commit (0: 10s)"
	return cmd
}

// reportReplBench prints a replication benchmark's result.
// A state difference is the benchmark's finding, as a replay mismatch is
// bench's: the figures are printed, and the exit status is 1 in text and
// --json alike. A run that failed returns its error before this, with no
// result.
func (a *app) reportReplBench(r *replBenchResult, jsonOut bool) error {
	differ := func() error {
		if !r.HashesEqual {
			return &exitError{code: exitFailure, msg: "the follower's state differs from the leader's"}
		}
		return nil
	}
	if jsonOut {
		if err := a.printJSON(r); err != nil {
			return err
		}
		return differ()
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "replicas\t%d (embedded servers on loopback, file storage, sync always)\n", r.Replicas)
	fmt.Fprintf(tw, "load\t%d committers x %d deltas of 16 bytes, target %s\n", r.Committers, r.Batch, rateText(r.RateTarget))
	fmt.Fprintf(tw, "throughput\t%.0f deltas/s (%d commits in %.1f s)\n", r.DeltasPerSec, r.Commits, r.DurationSec)
	// Three significant digits, as bench's reports: Duration's String
	// printed every nanosecond ("14.918269ms").
	fmt.Fprintf(tw, "commit latency\tp50 %s  p99 %s\n", shortDuration(r.CommitP50NS), shortDuration(r.CommitP99NS))
	fmt.Fprintf(tw, "follower lag\tp50 %s  p99 %s  (%d records)\n", shortDuration(r.LagP50NS), shortDuration(r.LagP99NS), r.LagSamples)
	fmt.Fprintf(tw, "state hashes\tfollower %s leader at LSN %d\n", map[bool]string{true: "equals", false: "DIFFERS from"}[r.HashesEqual], r.LeaderLSN)
	fmt.Fprintf(tw, "load average\t%s\n", r.LoadAverage1m)
	if err := tw.Flush(); err != nil {
		return err
	}
	return differ()
}

func rateText(r float64) string {
	if r == 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f deltas/s", r)
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil || len(b) == 0 {
		return "unknown"
	}
	var one string
	_, _ = fmt.Sscan(string(b), &one)
	return one
}

func runReplicationBench(ctx context.Context, replicas int, l loadFlags) (*replBenchResult, error) {
	tmp, err := os.MkdirTemp("", "mmsb-replication-bench-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	var dirs []string
	for i := 0; i < replicas; i++ {
		dirs = append(dirs, filepath.Join(tmp, fmt.Sprintf("nats-%d", i)))
	}
	cluster, err := replicate.StartCluster("mmsbbench", dirs)
	if err != nil {
		return nil, err
	}
	defer cluster.Shutdown()
	if replicas > 1 {
		if err := cluster.WaitJetStream(30 * time.Second); err != nil {
			return nil, err
		}
	}
	cfg := replicate.Config{Bus: "bench", Replicas: replicas}
	var ackTimes sync.Map // LSN -> time acknowledged
	var lagMu sync.Mutex
	var lags []time.Duration
	onApplied := func(last mmsb.LSN) {
		now := time.Now()
		if v, ok := ackTimes.LoadAndDelete(last); ok {
			lag := max(now.Sub(v.(time.Time)), 0)
			lagMu.Lock()
			lags = append(lags, lag)
			lagMu.Unlock()
		} else {
			// Applied before the leader's commit returned: store a marker.
			ackTimes.Store(last, struct{}{})
		}
	}
	nodeCtx, stopNodes := context.WithCancel(ctx)
	defer stopNodes()
	start := func(id string, followOnly bool, applied func(mmsb.LSN)) (*replicate.Node, chan error, error) {
		nc, stop, _, err := replicate.Connect(cluster.URL(), "")
		if err != nil {
			return nil, nil, err
		}
		n, err := replicate.NewNode(nodeCtx, replicate.NodeConfig{
			Config: cfg, ID: id, Dir: filepath.Join(tmp, id), Conn: nc, FollowOnly: followOnly, OnApplied: applied, CheckpointEvery: -1,
		})
		if err != nil {
			stop()
			return nil, nil, err
		}
		done := make(chan error, 1)
		go func() { done <- n.Run(nodeCtx); stop() }()
		return n, done, nil
	}
	leader, ldone, err := start("leader", false, nil)
	if err != nil {
		return nil, err
	}
	wctx, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	bus, err := leader.WaitLeader(wctx)
	cancelWait()
	if err != nil {
		return nil, fmt.Errorf("no leader: %w", err)
	}
	follower, fdone, err := start("follower", true, onApplied)
	if err != nil {
		return nil, err
	}
	// Whatever the outcome, the nodes stop (their context ended: nothing
	// to report) before the cluster and their directories go.
	defer func() {
		stopNodes()
		for _, done := range []chan error{ldone, fdone} {
			<-done //nolint:errcheck // stopped by their context: nothing to report
		}
	}()
	lctx, cancel := context.WithTimeout(ctx, l.duration)
	defer cancel()
	st, err := runLoad(lctx, bus, l, func(info mmsb.CommitInfo, at time.Time) {
		if _, loaded := ackTimes.LoadOrStore(info.LastLSN, at); loaded {
			// The follower applied it first: lag 0.
			ackTimes.Delete(info.LastLSN)
			lagMu.Lock()
			lags = append(lags, 0)
			lagMu.Unlock()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	// An interrupted run is shorter than asked for: no result.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted after %.1fs (%d commits): %w", st.elapsed.Seconds(), st.commits, err)
	}
	// No commit acknowledged within --duration (a --rate below one batch
	// per --duration): there is nothing to measure, and the figures of
	// zeros looked like a sound run.
	if st.commits == 0 {
		return nil, fmt.Errorf("no commit acknowledged within %v (--rate %s): nothing measured", l.duration, rateText(l.rate))
	}
	r := &replBenchResult{
		Replicas: replicas, Batch: l.batch, Committers: l.committers, RateTarget: l.rate,
		Commits: st.commits, DeltasPerSec: st.deltasPerSec(), DurationSec: st.elapsed.Seconds(),
		CommitP50NS: int64(st.pct(0.5)), CommitP99NS: int64(st.pct(0.99)), LoadAverage1m: loadAverage(),
	}
	last := bus.LastLSN()
	r.LeaderLSN = uint64(last)
	caughtUp := false
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if fb := follower.Bus(); fb != nil && fb.LastLSN() >= last {
			lh, err1 := bus.StateHash()
			fh, err2 := fb.StateHash()
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("state hashes: %w", err)
			}
			r.HashesEqual, r.FollowerLSN, caughtUp = lh == fh, uint64(fb.LastLSN()), true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A follower that never caught up was reported as a state difference,
	// which it is not: the run failed, and has no result.
	if !caughtUp {
		var at mmsb.LSN
		if fb := follower.Bus(); fb != nil {
			at = fb.LastLSN()
		}
		return nil, fmt.Errorf("the follower did not catch up: at LSN %d of the leader's %d", at, last)
	}
	// A node that stopped by itself during the run failed (its error was
	// dropped, and the figures printed as if the run was sound).
	for i, done := range []chan error{ldone, fdone} {
		select {
		case err := <-done:
			done <- err // for the deferred wait
			return nil, fmt.Errorf("the %s node stopped during the run: %w", []string{"leader", "follower"}[i], err)
		default:
		}
	}
	lagMu.Lock()
	r.LagP50NS, r.LagP99NS, r.LagSamples = int64(percentile(lags, 0.5)), int64(percentile(lags, 0.99)), len(lags)
	lagMu.Unlock()
	return r, nil
}
