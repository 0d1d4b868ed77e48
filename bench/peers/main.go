// Command peers runs MMSB's reference workload against MMSB in process, MMSB
// over its network server (loopback), and Redis, Pebble and bbolt, each with and without fsync, and prints
// deltas/s, batch latency p50/p99 and the ratio MMSB/peer in the same mode.
//
// It lives in its own module (bench/peers) so that MMSB's module never
// depends on its peers. Run it from this directory:
//
//	go run . [--deltas N] [--pages N] [--batch N] [--only mmsb,redis/sync] [--json]
//
// A peer whose program is missing (redis-server) is skipped with a note.
// docs/benchmarks.md keeps figures from this command.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Result is one target's run.
type Result struct {
	System       string  `json:"system"`
	Mode         string  `json:"mode"`
	Deltas       int     `json:"deltas"`
	Batches      int     `json:"batches"`
	Seconds      float64 `json:"seconds"`
	DeltasPerSec float64 `json:"deltas_per_sec"`
	P50Millis    float64 `json:"batch_p50_ms"`
	P99Millis    float64 `json:"batch_p99_ms"`
	// MMSBRatio is MMSB's deltas/s over this target's, in the same mode
	// (absent for MMSB itself or when MMSB did not run).
	MMSBRatio float64 `json:"mmsb_ratio,omitempty"`
	Skipped   string  `json:"skipped,omitempty"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	w := DefaultWorkload
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&w.Deltas, "deltas", w.Deltas, "deltas (16-byte writes) per target")
	fs.IntVar(&w.Pages, "pages", w.Pages, "pages")
	fs.IntVar(&w.PageSize, "page-size", w.PageSize, "page size in bytes")
	fs.IntVar(&w.Batch, "batch", w.Batch, "deltas per batch (one commit)")
	fs.Uint64Var(&w.Seed, "seed", w.Seed, "seed of the workload")
	only := fs.String("only", "", "comma-separated systems or system/mode to run (e.g. mmsb,redis/sync); empty: all")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := w.Validate(); err != nil {
		return err
	}
	selected, err := selectTargets(targets(), *only)
	if err != nil {
		return err
	}
	batches := w.Batches()
	var results []Result
	for _, e := range selected {
		r, err := runTarget(ctx, e, w, batches)
		if errors.Is(err, ErrUnavailable) {
			fmt.Fprintf(stderr, "peers: skipping %s/%s: %v\n", e.System, e.Mode, err)
			results = append(results, Result{System: e.System, Mode: e.Mode, Skipped: err.Error()})
			continue
		}
		if err != nil {
			return fmt.Errorf("%s/%s: %w", e.System, e.Mode, err)
		}
		results = append(results, r)
		if !*asJSON {
			fmt.Fprintf(stderr, "peers: %s/%s done: %.0f deltas/s\n", e.System, e.Mode, r.DeltasPerSec)
		}
	}
	addRatios(results)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Workload Workload `json:"workload"`
			GOOS     string   `json:"goos"`
			CPUs     int      `json:"cpus"`
			Results  []Result `json:"results"`
		}{w, runtime.GOOS, runtime.NumCPU(), results})
	}
	printTable(stdout, w, results)
	return nil
}

// selectTargets keeps the entries named by only ("system" or
// "system/mode", comma-separated), refusing names that match nothing.
func selectTargets(all []entry, only string) ([]entry, error) {
	if only == "" {
		return all, nil
	}
	var out []entry
	for _, name := range strings.Split(only, ",") {
		name = strings.TrimSpace(name)
		n := len(out)
		for _, e := range all {
			if (name == e.System || name == e.System+"/"+e.Mode) && !slices.ContainsFunc(out, func(o entry) bool { return o.System == e.System && o.Mode == e.Mode }) {
				out = append(out, e)
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("--only: %q names no target (systems: mmsb, mmsb-server, mmsb-server-4, mmsb-server-16, redis, pebble, bbolt; modes: nosync, sync)", name)
		}
	}
	// Keep the canonical order so that MMSB runs first in each mode.
	slices.SortStableFunc(out, func(a, b entry) int { return index(all, a) - index(all, b) })
	return out, nil
}

func index(all []entry, e entry) int {
	return slices.IndexFunc(all, func(o entry) bool { return o.System == e.System && o.Mode == e.Mode })
}

// runTarget sets a target up in a fresh temporary directory, commits every
// batch timing each, and closes it.
func runTarget(ctx context.Context, e entry, w Workload, batches [][]Write) (res Result, err error) {
	dir, err := os.MkdirTemp("", "mmsb-peers-"+e.System+"-")
	if err != nil {
		return Result{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best effort: a temporary directory
	t := e.New()
	defer func() {
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	if err := t.Setup(ctx, dir, w); err != nil {
		return Result{}, err
	}
	start := time.Now()
	lat, err := commitAll(ctx, t, batches, e.Clients)
	if err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	return Result{System: e.System, Mode: e.Mode, Deltas: w.Deltas, Batches: len(batches), Seconds: elapsed.Seconds(),
		DeltasPerSec: float64(w.Deltas) / elapsed.Seconds(),
		P50Millis:    millis(percentile(lat, 50)), P99Millis: millis(percentile(lat, 99))}, nil
}

// commitAll commits every batch, timing each: in order with one client,
// else from that many goroutines, each taking the next batch.
func commitAll(ctx context.Context, t Target, batches [][]Write, clients int) ([]time.Duration, error) {
	lat := make([]time.Duration, len(batches))
	clients = max(clients, 1)
	var next atomic.Int64
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				t0 := time.Now()
				if err := t.Commit(ctx, batches[i]); err != nil {
					errs[c] = fmt.Errorf("batch %d: %w", i, err)
					next.Store(int64(len(batches))) // stop the others
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return lat, errors.Join(errs...)
}

// percentile returns the p-th percentile of sorted durations (nearest
// rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := (len(sorted)*p + 99) / 100 // ceil(n*p/100), 1-based
	return sorted[max(k, 1)-1]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// addRatios sets each peer's MMSBRatio from MMSB's result in its mode.
func addRatios(rs []Result) {
	for i := range rs {
		if rs[i].System == "mmsb" || rs[i].Skipped != "" {
			continue
		}
		for _, m := range rs {
			if m.System == "mmsb" && m.Mode == rs[i].Mode && m.Skipped == "" && rs[i].DeltasPerSec > 0 {
				rs[i].MMSBRatio = m.DeltasPerSec / rs[i].DeltasPerSec
			}
		}
	}
}

func printTable(out io.Writer, w Workload, rs []Result) {
	fmt.Fprintf(out, "workload: %d deltas of %d B at random offsets of %d pages of %d B, batches of %d, seed %d; %d CPUs\n\n",
		w.Deltas, WriteSize, w.Pages, w.PageSize, w.Batch, w.Seed, runtime.NumCPU())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tmode\tdeltas/s\tbatch p50 ms\tbatch p99 ms\tMMSB/peer\t")
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\tskipped\t\t\t\t\n", r.System, r.Mode)
			continue
		}
		ratio := ""
		if r.MMSBRatio > 0 {
			ratio = fmt.Sprintf("%.1fx", r.MMSBRatio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.3f\t%.3f\t%s\t\n", r.System, r.Mode, r.DeltasPerSec, r.P50Millis, r.P99Millis, ratio)
	}
	_ = tw.Flush()
}
