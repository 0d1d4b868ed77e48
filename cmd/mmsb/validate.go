package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb/internal/harness"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.validateCmd() }) }

// validateOptions are the flags of `mmsb validate`.
type validateOptions struct {
	quick   bool
	only    string
	json    bool
	targets string
	history string
	report  string
	seed    uint64
	workers int
	dir     string
}

func (a *app) validateCmd() *cobra.Command {
	var o validateOptions
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Run the 10 validation benchmarks and compare them with their targets",
		Long: `validate runs MMSB's ten validation benchmarks on embedded buses (replay,
integrity, graph, isolation, throughput, tick latency, memory, invariants,
stability, provenance), prints the table (✓/✗, the figure, the target) and
then "Result: N/M PASS".

Every benchmark records semantic checks (replay equality, zero orphans,
purity, no NaN, ...) that must hold on any machine, and timing checks
(rates, latencies) that depend on it. The full run gates on both; --quick
runs smaller sizes with the same semantic checks and prints the timing
checks without letting them fail the run.

Exit status: 0 only when every selected benchmark passed; 1 when one failed;
2 on a usage error. See docs/validate.md.`,
		Example: `  mmsb validate
  mmsb validate --quick
  mmsb validate --only 1,5 --json
  mmsb validate --report ./report --history ./history`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runValidate(cmd, &o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.quick, "quick", false, "smaller sizes, same semantic checks; timing checks are printed but do not gate")
	f.StringVar(&o.only, "only", "", "comma-separated benchmark numbers to run (e.g. 1,5); default all")
	f.BoolVar(&o.json, "json", false, "print the report as JSON instead of the table")
	f.StringVar(&o.targets, "targets", "", "targets JSON file (default: the embedded benchmarks_targets.json)")
	f.StringVar(&o.history, "history", "", "append one JSON line per run to DIR/history.jsonl")
	f.StringVar(&o.report, "report", "", "write an HTML report with PNG charts to DIR/index.html")
	f.Uint64Var(&o.seed, "seed", 1, "seed of every random workload, 0 included (runs with the same seed do the same work)")
	intVar(f, &o.workers, "workers", 0, "largest worker count of the multi-threaded measurements, 0..1024 (0: the number of CPUs)")
	f.StringVar(&o.dir, "dir", "", "existing scratch directory for benchmarks that use the disk (default: the system temp dir)")
	return cmd
}

// parseOnly parses --only: benchmark numbers separated by commas, each one
// that exists.
func parseOnly(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	known := map[int]bool{}
	for _, b := range harness.All() {
		known[b.ID] = true
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		n, err := strconv.Atoi(strings.TrimPrefix(part, "#"))
		if err != nil || !known[n] {
			return nil, usageErr("--only: %q is not a benchmark number (1-%d)", part, len(known))
		}
		out = append(out, n)
	}
	return out, nil
}

func (a *app) runValidate(cmd *cobra.Command, o *validateOptions) error {
	only, err := parseOnly(o.only)
	if err != nil {
		return err
	}
	cfg := harness.Config{Quick: o.quick, Seed: o.seed, Workers: o.workers, Dir: o.dir}
	// harness.Config.Validate is the one check of --workers and --dir
	// (a huge --workers ran 1,023 measurements of #5 before failing; a
	// missing --dir failed #7 after every other benchmark had run).
	if err := cfg.Validate(); err != nil {
		var ce *harness.ConfigError
		if errors.As(err, &ce) {
			return usageErr("--%s %v: %s", strings.ToLower(ce.Field), ce.Value, ce.Reason)
		}
		return usageErr("%v", err)
	}
	// The history line and the HTML report are written after the run:
	// a path that can never be a directory failed the command only
	// then (exit 1, "harness: report: mkdir ...: not a directory"),
	// after every benchmark had run.
	for _, out := range []struct{ flag, dir string }{{"--history", o.history}, {"--report", o.report}} {
		if out.dir == "" {
			continue
		}
		if err := checkOutputDir(out.dir); err != nil {
			return usageErr("%s %s: %v", out.flag, out.dir, err)
		}
	}
	// The report replaces only an earlier report's files, and goes in no
	// bus's directory: checked before the run too (WriteHTMLReport
	// checks again before it renames), so a refused DIR costs no run. A
	// site's index.html in DIR was replaced after the run until
	// 2026-12-07.
	if o.report != "" {
		if err := harness.CheckReportDir(o.report); err != nil {
			return usageErr("--report %s: %v", o.report, strings.TrimPrefix(err.Error(), harness.ErrNotAReport.Error()+": "))
		}
	}
	// The same rule for the history: a line is appended only to an
	// earlier history, in no bus's directory (AppendHistory checks again
	// before it appends). It appended to any history.jsonl, a bus's wal/
	// included, until 2026-12-07.
	if o.history != "" {
		if err := harness.CheckHistoryDir(o.history); err != nil {
			return usageErr("--history %s: %v", o.history, strings.TrimPrefix(err.Error(), harness.ErrNotAnOutput.Error()+": "))
		}
	}
	targets, err := harness.LoadTargets(o.targets)
	if err != nil {
		if o.targets != "" {
			return targetsFileErr(o.targets, err)
		}
		return err
	}
	total := len(only)
	if total == 0 {
		total = len(harness.All())
	}
	bar := a.progress(int64(total), "validate", "benchmarks")
	started := 0
	cfg.Progress = func(id int, name string) {
		if started > 0 {
			bar.add(1)
		}
		started++
		if bar.bar != nil {
			bar.bar.Describe(fmt.Sprintf("#%d %s", id, name))
		}
	}
	rep, err := harness.Run(cmd.Context(), cfg, targets, only)
	if err != nil {
		bar.finish()
		return err
	}
	if started > 0 {
		bar.add(1)
	}
	bar.finish()
	if err := cmd.Context().Err(); err != nil {
		return err
	}
	// The result goes out first: a run that failed (the one whose figures
	// matter most) must show its table or JSON even when writing the
	// history or the HTML report then fails.
	if o.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		rep.WriteTable(a.stdout)
	}
	var written []error
	if o.history != "" {
		if err := harness.AppendHistory(o.history, rep); err != nil {
			written = append(written, err)
		}
	}
	if o.report != "" {
		if _, err := harness.WriteHTMLReport(o.report, rep); err != nil {
			written = append(written, err)
		} else if !o.json {
			fmt.Fprintf(a.stdout, "Report: %s\n", filepath.Join(o.report, harness.ReportFile))
		}
	}
	if !rep.AllPass {
		msg := fmt.Sprintf("%d of %d benchmarks failed", rep.Total-rep.Passed, rep.Total)
		if err := errors.Join(written...); err != nil {
			msg += "; " + err.Error()
		}
		return &exitError{code: exitFailure, msg: msg}
	}
	if err := errors.Join(written...); err != nil {
		return err
	}
	return nil
}

// targetsFileErr is the usage error of a --targets file that
// harness.LoadTargets refused (err): it names the flag and the file, and
// where in the file the JSON decoder stopped (line and column, when it
// says at which byte). It said "usage: harness: targets: invalid
// character 'r' looking for beginning of value" for --targets /etc/passwd,
// naming neither.
func targetsFileErr(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), harness.ErrTargets.Error()+": ")
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset > 0 {
		where := fmt.Sprintf("byte %d", offset)
		if b, rerr := os.ReadFile(path); rerr == nil && offset <= int64(len(b)) {
			// The decoder's offset is just past the byte it refused.
			before := b[:offset-1]
			line := bytes.Count(before, []byte("\n")) + 1
			col := len(before) - (bytes.LastIndexByte(before, '\n') + 1) + 1
			where = fmt.Sprintf("line %d, column %d", line, col)
		}
		msg = where + ": " + msg
	}
	return usageErr("--targets %s: %s", termText(path), msg)
}
