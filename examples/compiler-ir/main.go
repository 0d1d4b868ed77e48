// Command compiler-ir keeps the analyses of a program of thousands of
// functions (call-graph reachability, stack depth and longest call chain,
// constant and purity facts) as derived pages of an MMSB bus, edits the
// program, and checks after every edit that the bus's pages are byte-identical
// to a from-scratch analysis in plain Go, timing both.
//
//	go run ./examples/compiler-ir                 # results table
//	go run ./examples/compiler-ir --json          # one JSON object
//	go run ./examples/compiler-ir --plot DIR      # PNG charts
//	go run ./examples/compiler-ir --input prog.ir # a program in the text format
//
// See README.md next to this file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mmsb-go/mmsb/examples/internal/chart"
	"github.com/mmsb-go/mmsb/examples/internal/cliflags"
	"github.com/mmsb-go/mmsb/examples/internal/runstat"
)

// config is a scenario.
type config struct {
	Seed      uint64
	Funcs     int
	Edits     int       // single-function edits, one commit and one wave each
	Repeats   int       // runs per sweep fraction (the median is reported)
	Fractions []float64 // fractions of functions edited in one batch
	Input     string    // a program in the text format instead of a generated one
}

// ErrBadFlag: a command-line flag (a config field) out of its range.
var ErrBadFlag = errors.New("bad flag value")

func defaultConfig() config {
	return config{Seed: 1, Funcs: 5000, Edits: 100, Repeats: 3,
		Fractions: []float64{0.0002, 0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1}}
}

// sweepPoint is the median latency of editing a fraction of the functions in
// one batch.
type sweepPoint struct {
	Fraction      float64 `json:"fraction"`
	Edited        int     `json:"functions_edited"`
	IncrementalMS float64 `json:"incremental_ms"`
	ComputeMS     float64 `json:"compute_ms"`
	BookkeepingMS float64 `json:"bookkeeping_ms"`
	CommitMS      float64 `json:"commit_and_rebind_ms"`
	FullMS        float64 `json:"full_ms"`
	Speedup       float64 `json:"speedup"`
	Recomputed    int     `json:"pages_recomputed"`
	Cutoffs       int     `json:"cutoffs"`
	Visited       int     `json:"pages_visited"` // descendants ordered by the wave
}

// report is what a run found; --json prints it.
type report struct {
	Equal         bool    `json:"equal"`
	IncrementalMS float64 `json:"incremental_ms"` // median over single-function edits
	FullMS        float64 `json:"full_ms"`        // median from-scratch analysis
	Speedup       float64 `json:"speedup"`
	CommitMS      float64 `json:"commit_and_rebind_ms"`
	ComputeMS     float64 `json:"compute_ms"`
	BookkeepingMS float64 `json:"bookkeeping_ms"`
	// BusRecomputeAllMS: one wave recomputing every analysis page with
	// nothing changed (ScheduleResync): what the bus pays to redo everything.
	BusRecomputeAllMS float64      `json:"bus_recompute_all_ms"`
	MedianRecomputed  int          `json:"median_pages_recomputed"`
	Functions         int          `json:"functions"`
	Pages             int          `json:"pages"`
	Edits             int          `json:"edits_checked"`
	SetupMS           float64      `json:"setup_ms"`
	Crossover         float64      `json:"crossover_fraction"` // first swept fraction where incremental is slower than full; 0: none
	Sweep             []sweepPoint `json:"sweep"`
	Mismatch          string       `json:"mismatch,omitempty"`
	Seed              uint64       `json:"seed"`
	LoadAverage       string       `json:"load_average"`
	// singleEdits is how many single-function edits were timed: with none
	// (--edits 0) the table says so instead of printing their medians as
	// zeros (a speed-up of 0.0× that nothing measured).
	singleEdits int
}

func main() {
	cfg := defaultConfig()
	asJSON := flag.Bool("json", false, "print one JSON object instead of the table")
	plotDir := flag.String("plot", "", "write PNG charts to this directory")
	dump := flag.String("dump", "", "write the generated program in the text format to this file and exit")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the generated program and of the edits")
	flag.IntVar(&cfg.Funcs, "funcs", cfg.Funcs, "functions in the generated program")
	flag.IntVar(&cfg.Edits, "edits", cfg.Edits, "single-function edits checked and timed")
	flag.IntVar(&cfg.Repeats, "repeats", cfg.Repeats, "runs per swept fraction")
	flag.StringVar(&cfg.Input, "input", "", "read the program from this text file (README: Text format)")
	cliflags.Parse()
	if err := checkNoArgs(flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(err))
		os.Exit(1)
	}
	if err := cliflags.EmptyValue(flag.CommandLine); err != nil {
		fmt.Fprintln(os.Stderr, errorLine(fmt.Errorf("%w: %w", ErrBadFlag, err)))
		os.Exit(1)
	}
	// Ctrl-C (or SIGTERM) cancels the run, which then closes the bus and
	// exits with status 130, leaving no half-written --dump file or chart.
	// Killed outright by the signal, it left a truncated --dump or PNG
	// behind and reported nothing (TestInterruptCleansUp).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, cfg, *dump, *plotDir, *asJSON)
	stop()
	os.Exit(code)
}

// runMain is main after the flags: it returns the exit status (130 when
// ctx was cancelled by an interrupt).
func runMain(ctx context.Context, cfg config, dump, plotDir string, asJSON bool) int {
	interrupted := func() bool {
		if ctx.Err() == nil {
			return false
		}
		fmt.Fprintln(os.Stderr, "compiler-ir: interrupted")
		return true
	}
	if dump != "" && (plotDir != "" || asJSON) {
		// --dump writes the program and exits: --plot and --json were
		// silently ignored (no chart, no JSON, exit status 0).
		name := "--plot " + plotDir
		if asJSON {
			name = "--json"
		}
		fmt.Fprintln(os.Stderr, errorLine(fmt.Errorf("%w: --dump writes the generated program and exits, with no run for %s", ErrBadFlag, name)))
		return 1
	}
	if dump != "" {
		err := dumpProgram(ctx, dump, cfg)
		if interrupted() {
			return 130
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, errorLine(err))
			return 1
		}
		return 0
	}
	undoPlot := func() {}
	if plotDir != "" {
		// Checked before the run, which the charts come at the end of.
		var err error
		if undoPlot, err = cliflags.OutputDir("plot", plotDir); err != nil {
			fmt.Fprintln(os.Stderr, errorLine(fmt.Errorf("%w: %w", ErrBadFlag, err)))
			return 1
		}
	}
	rep, err := run(ctx, cfg)
	if interrupted() {
		undoPlot() // no charts: no empty directory made for them either
		return 130
	}
	if err != nil {
		undoPlot()
		fmt.Fprintln(os.Stderr, errorLine(err))
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, errorLine(err))
			return 1
		}
	} else {
		printTable(os.Stdout, rep)
	}
	if plotDir != "" {
		err := writeCharts(ctx, plotDir, rep)
		if interrupted() {
			return 130
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, errorLine(err))
			return 1
		}
	}
	if !rep.Equal {
		return 2
	}
	return 0
}

// validate refuses a config the run cannot honour. Without it --funcs -1
// and --repeats 0 panicked (exit status 2, which means a failed
// comparison), a huge --funcs exhausted memory and --edits -1 silently ran
// no edits.
func (c config) validate() error {
	if c.Input == "" && (c.Funcs < 1 || c.Funcs > MaxFuncs) {
		return fmt.Errorf("%w: --funcs %d: want 1 to %d", ErrBadFlag, c.Funcs, MaxFuncs)
	}
	if c.Edits < 0 {
		return fmt.Errorf("%w: --edits %d: want 0 or more", ErrBadFlag, c.Edits)
	}
	if len(c.Fractions) > 0 && c.Repeats < 1 {
		return fmt.Errorf("%w: --repeats %d: want 1 or more", ErrBadFlag, c.Repeats)
	}
	for _, f := range c.Fractions {
		if !(f > 0 && f <= 1) {
			return fmt.Errorf("%w: edit fraction %v: want more than 0 and at most 1", ErrBadFlag, f)
		}
	}
	return nil
}

// dumpProgram writes the generated program to path. An interrupt (ctx
// cancelled) or an error before the file is complete leaves path as it
// was: a truncated program would fail to parse later, far from the cause,
// and a file it replaces is kept until the new one is whole.
func dumpProgram(ctx context.Context, path string, cfg config) (err error) {
	if err := cfg.validate(); err != nil {
		return err
	}
	// --dump writes the generated program: with --input it wrote a
	// generated program of --funcs functions, not the input, and said
	// nothing.
	if cfg.Input != "" {
		return fmt.Errorf("%w: --dump writes the generated program (--funcs, --seed), not --input %s", ErrBadFlag, cfg.Input)
	}
	prog := Generate(cfg.Seed, cfg.Funcs)
	// A path that exists and is no regular file (--dump /dev/stdout, a
	// FIFO, a symbolic link) is written in place, through the link, and
	// never removed: its name is not the dump's to delete or replace.
	mode := os.FileMode(0o644)
	st, statErr := os.Lstat(path)
	if statErr == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644) // O_CREATE: a dangling link
		if err != nil {
			return err
		}
		if err := Format(f, prog); err != nil {
			_ = f.Close() // the write error is the one to report
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return ctx.Err()
	}
	// Otherwise the program goes to a temporary file beside path, renamed
	// over it once complete: an interrupted or failed dump leaves path as
	// it was. It was truncated first and then removed, so a dump over an
	// existing program (--dump prog.ir) interrupted by Ctrl-C lost both.
	if statErr == nil {
		mode = st.Mode().Perm() // a replaced file keeps its permissions
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name()) // incomplete: the error says why
		}
	}()
	if err := Format(f, prog); err != nil {
		_ = f.Close() // the write error is the one to report
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a dump is an ordinary text file.
	if err := os.Chmod(f.Name(), mode); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func loadProgram(cfg config) (*Program, error) {
	if cfg.Input == "" {
		return Generate(cfg.Seed, cfg.Funcs), nil
	}
	f, err := os.Open(cfg.Input)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: closing cannot lose data
	p, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Input, err)
	}
	return p, nil
}

// editChecked, when set (by the interrupt test's child process), is
// called after each single-function edit is applied and checked.
var editChecked func()

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// run builds the bus, checks it against the from-scratch analysis, then times
// single-function edits and the sweep over edit fractions, checking after
// every edit.
func run(ctx context.Context, cfg config) (_ *report, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	prog, err := loadProgram(cfg)
	if err != nil {
		return nil, err
	}
	n := len(prog.Funcs)
	if n == 0 {
		return nil, fmt.Errorf("the program has no functions")
	}
	rep := &report{Equal: true, Functions: n, Pages: 4 * n, Seed: cfg.Seed, LoadAverage: runstat.LoadAverage()}
	start := time.Now()
	a, err := newBusAnalyzer(ctx, prog, noFaults)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, a.Close()) }()
	rep.SetupMS = ms(time.Since(start))
	check := func(p *Program) (time.Duration, error) {
		start := time.Now()
		want, err := Analyse(p)
		full := time.Since(start)
		if err != nil {
			return 0, err
		}
		if rep.Mismatch == "" {
			diff, err := a.mismatch(want)
			if err != nil {
				return 0, err
			}
			if diff != "" {
				rep.Equal, rep.Mismatch = false, diff
			}
		}
		rep.Edits++
		return full, nil
	}
	if _, err := check(prog); err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x65646974)) //nolint:gosec // reproducible edits
	cur := prog
	var incr, full, commit, compute, book []float64
	var recomputed []int
	for range cfg.Edits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next := cur.Clone()
		fn := rng.IntN(n)
		randomEdit(rng, next, a.rank, a.order, fn)
		t, err := a.apply(ctx, next, []int{fn})
		if err != nil {
			return nil, err
		}
		f, err := check(next)
		if err != nil {
			return nil, err
		}
		incr, full = append(incr, ms(t.Total())), append(full, ms(f))
		commit, compute, book = append(commit, ms(t.Rebind+t.Commit)), append(compute, ms(t.Compute)), append(book, ms(t.Bookkeeping()))
		recomputed = append(recomputed, t.Recomputed)
		cur = next
		if editChecked != nil {
			editChecked()
		}
	}
	rep.singleEdits = cfg.Edits
	if cfg.Edits > 0 {
		rep.IncrementalMS, rep.FullMS = runstat.Median(incr), runstat.Median(full)
		rep.CommitMS, rep.ComputeMS, rep.BookkeepingMS = runstat.Median(commit), runstat.Median(compute), runstat.Median(book)
		rep.Speedup = rep.FullMS / rep.IncrementalMS
		slices.Sort(recomputed)
		rep.MedianRecomputed = recomputed[len(recomputed)/2]
	}
	var all []float64
	measured := map[int]bool{} // functions edited at once, by a point already swept
	for _, frac := range cfg.Fractions {
		k := max(1, int(math.Round(frac*float64(n))))
		if measured[k] {
			// Two fractions that round to the same number of functions
			// (0.02% and 0.1% of 500: 1) measured the same edit twice,
			// two rows with one label ("0.20%  1"): it is swept once.
			continue
		}
		measured[k] = true
		var pi, pf, pc, pb, pm []float64
		var prec, pcut, pvis []int
		for range cfg.Repeats {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			next := cur.Clone()
			changed := rng.Perm(n)[:k]
			slices.Sort(changed)
			for _, fn := range changed {
				randomEdit(rng, next, a.rank, a.order, fn)
			}
			t, err := a.apply(ctx, next, changed)
			if err != nil {
				return nil, err
			}
			f, err := check(next)
			if err != nil {
				return nil, err
			}
			cur = next
			pi, pf = append(pi, ms(t.Total())), append(pf, ms(f))
			pc, pb, pm = append(pc, ms(t.Compute)), append(pb, ms(t.Bookkeeping())), append(pm, ms(t.Rebind+t.Commit))
			prec, pcut, pvis = append(prec, t.Recomputed), append(pcut, t.Cutoffs), append(pvis, t.Visited)
			r, err := a.recomputeAll(ctx)
			if err != nil {
				return nil, err
			}
			all = append(all, ms(r.Propagate))
		}
		slices.Sort(prec)
		slices.Sort(pcut)
		slices.Sort(pvis)
		// The fraction actually edited: at least one function is, so on a
		// small program the swept 0.02% is 1 of 10 functions, 10%. The
		// table, the chart and the crossover said 0.02% for it.
		sp := sweepPoint{Fraction: float64(k) / float64(n), Edited: k, IncrementalMS: runstat.Median(pi), FullMS: runstat.Median(pf), ComputeMS: runstat.Median(pc),
			BookkeepingMS: runstat.Median(pb), CommitMS: runstat.Median(pm), Recomputed: prec[len(prec)/2], Cutoffs: pcut[len(pcut)/2], Visited: pvis[len(pvis)/2]}
		sp.Speedup = sp.FullMS / sp.IncrementalMS
		if sp.Speedup < 1 && rep.Crossover == 0 {
			rep.Crossover = sp.Fraction
		}
		rep.Sweep = append(rep.Sweep, sp)
	}
	if len(all) > 0 {
		rep.BusRecomputeAllMS = runstat.Median(all)
	}
	return rep, nil
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintf(w, "compiler-ir: %d functions, %d pages (IR + reach + depth + facts per function), seed %d, load average %s\n",
		rep.Functions, rep.Pages, rep.Seed, rep.LoadAverage)
	fmt.Fprintf(w, "bus built and first analysis propagated in %.0f ms; %d states checked byte for byte: equal=%v\n", rep.SetupMS, rep.Edits, rep.Equal)
	if rep.Mismatch != "" {
		fmt.Fprintf(w, "MISMATCH: %s\n", rep.Mismatch)
	}
	if rep.singleEdits == 0 {
		fmt.Fprintf(w, "\nOne function edited per commit: none timed (--edits 0)\n")
	} else {
		fmt.Fprintf(w, "\nOne function edited per commit (median of the single edits):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "incremental ms\tcommit+rebind\tcompute\tbookkeeping\tpages recomputed\tfull ms\tspeed-up\t\n")
		fmt.Fprintf(tw, "%.3f\t%.3f\t%.3f\t%.3f\t%d\t%.3f\t%.1f×\t\n", rep.IncrementalMS, rep.CommitMS, rep.ComputeMS, rep.BookkeepingMS,
			rep.MedianRecomputed, rep.FullMS, rep.Speedup)
		tw.Flush()
	}
	fmt.Fprintf(w, "\nA fraction of the functions edited in one commit (median of the runs):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "fraction\tfunctions\tincremental ms\tcompute\tbookkeeping\tvisited\trecomputed\tcutoffs\tfull ms\tspeed-up\t\n")
	for _, s := range rep.Sweep {
		fmt.Fprintf(tw, "%.2f%%\t%d\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%.3f\t%.2f×\t\n", 100*s.Fraction, s.Edited, s.IncrementalMS, s.ComputeMS,
			s.BookkeepingMS, s.Visited, s.Recomputed, s.Cutoffs, s.FullMS, s.Speedup)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nbus recomputing every analysis page with nothing changed: %.3f ms\n", rep.BusRecomputeAllMS)
	if rep.Crossover > 0 {
		fmt.Fprintf(w, "crossover: from %.2f%% of the functions edited at once, the from-scratch analysis is faster\n", 100*rep.Crossover)
	} else {
		fmt.Fprintf(w, "crossover: none in the swept range (incremental faster at every fraction)\n")
	}
}

// writeCharts writes the PNG charts of rep into dir; when ctx is cancelled
// first (an interrupt) it writes nothing and returns ctx's error.
func writeCharts(ctx context.Context, dir string, rep *report) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var x, incr, full, book, compute []float64
	for _, s := range rep.Sweep {
		x = append(x, 100*s.Fraction)
		incr, full = append(incr, s.IncrementalMS), append(full, s.FullMS)
		book, compute = append(book, s.BookkeepingMS), append(compute, s.ComputeMS)
	}
	return chart.Lines(filepath.Join(dir, "latency_vs_fraction.png"), chart.Spec{
		Title:  fmt.Sprintf("compiler-ir: %d functions, latency per commit", rep.Functions),
		XLabel: "% of functions edited in one commit", YLabel: "ms (log)", LogX: true, LogY: true,
		HLine: rep.BusRecomputeAllMS, HLineName: "bus recomputing every page (nothing changed)", LegendRight: true, LegendBottom: true,
		Series: []chart.Series{
			{Name: "incremental (bus: commit + wave)", X: x, Y: incr},
			{Name: "from scratch (plain Go)", X: x, Y: full},
			{Name: "  of the wave: bookkeeping", X: x, Y: book, Dashed: true},
			{Name: "  of the wave: analyses' code", X: x, Y: compute, Dashed: true},
		},
	})
}

// errorLine is the line main prints for err: the command's name once. The
// sentinel errors do not repeat it (main used to print "compiler-ir: compiler-ir: bad
// flag value: ...").
func errorLine(err error) string { return "compiler-ir: " + err.Error() }

// checkNoArgs refuses arguments after the flags: every setting is a flag,
// and the flag package stops at the first argument that is none, so the
// flags after it were ignored too. Before, `compiler-ir prog.ir` (without
// --input) ran the generated program, reported on it as if on prog.ir and
// exited with status 0.
func checkNoArgs(args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q (every setting is a flag; see -h)", ErrBadFlag, args[0])
	}
	return nil
}
