// Package harness is MMSB's validation harness: the seed's 10 benchmarks,
// each measuring the real thing on an embedded bus, compared with targets
// loaded from benchmarks_targets.json (embedded; overridable).
//
// Every benchmark reports checks of two kinds: semantic checks (replay
// equality, zero orphans, purity, no NaNs, ...) that must hold on any
// machine, and timing checks (rates, latencies) that depend on the machine.
// Quick mode gates only on semantic checks and prints timings; the full run
// gates on both.
package harness

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mmsb-go/mmsb"
)

//go:embed benchmarks_targets.json
var defaultTargets []byte

// DefaultTargets returns the embedded targets file's bytes.
func DefaultTargets() []byte { return append([]byte(nil), defaultTargets...) }

// Targets is the parsed targets file.
type Targets struct {
	Version    int           `json:"version"`
	Note       string        `json:"machine_note"`
	Benchmarks []TargetEntry `json:"benchmarks"`

	// changes lists how the file differs from the published (embedded)
	// targets, one "key.threshold published → this" each, in order.
	changes []string
}

// Changes reports how these targets differ from the published (embedded)
// ones: one "key.field: published → this" for a changed name or target
// (the text the table shows as the benchmark's goal), then one
// "key.threshold: published → this" a threshold, sorted; none for the
// embedded file. A run's report carries them, so that a pass against
// looser targets (say replay's max_bytes_differing raised from 0, or a
// target text that promises less) never reads as a pass against the
// published ones.
func (t *Targets) Changes() []string { return t.changes }

// diffTargets lists what t changes of the published targets pub. An
// entry's id is not compared: ParseTargets requires the benchmark's own.
func diffTargets(pub, t *Targets) []string {
	var out []string
	for _, b := range All() {
		p, e := pub.Entry(b.Key), t.Entry(b.Key)
		// A changed target text passed with "target: NO TARGET AT ALL"
		// and nothing said the targets were not the published ones
		// (TestChangedTargetsReported).
		if p.Name != e.Name {
			out = append(out, fmt.Sprintf("%s.name: %q → %q", b.Key, p.Name, e.Name))
		}
		if p.Target != e.Target {
			out = append(out, fmt.Sprintf("%s.target: %q → %q", b.Key, p.Target, e.Target))
		}
		was, now := p.Thresholds, e.Thresholds
		names := make([]string, 0, len(was)+len(now))
		for n := range was {
			names = append(names, n)
		}
		for n := range now {
			if _, ok := was[n]; !ok {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			a, inPub := was[n]
			v, inT := now[n]
			switch {
			case !inT:
				out = append(out, fmt.Sprintf("%s.%s: %g → (absent)", b.Key, n, a))
			case !inPub:
				out = append(out, fmt.Sprintf("%s.%s: (absent) → %g", b.Key, n, v))
			case a != v && !(math.IsNaN(a) && math.IsNaN(v)):
				out = append(out, fmt.Sprintf("%s.%s: %g → %g", b.Key, n, a, v))
			}
		}
	}
	return out
}

// TargetEntry is one benchmark's target.
type TargetEntry struct {
	ID         int                `json:"id"`
	Key        string             `json:"key"`
	Name       string             `json:"name"`
	Target     string             `json:"target"`
	Thresholds map[string]float64 `json:"thresholds"`
}

// ErrTargets means a targets file (or Targets built by hand) cannot be run
// against: unreadable, malformed, missing a benchmark, with an entry whose
// id is not its benchmark's, missing a threshold a benchmark reads or
// holding one no benchmark reads, or sizing one outside its bounds.
var ErrTargets = errors.New("harness: targets")

// maxTargetsFileBytes bounds the targets file LoadTargets reads: the
// published one is under 4 KiB, and a path to a device (/dev/zero) or a
// huge file read forever or ran out of memory.
const maxTargetsFileBytes = 1 << 20

// ParseTargets parses a targets file and checks every benchmark is present,
// once, under its own id, that its entry holds every threshold it reads
// and no other, and that every size it reads is within its bounds.
func ParseTargets(b []byte) (*Targets, error) {
	var t Targets
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTargets, err)
	}
	if t.Version != 1 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrTargets, t.Version)
	}
	known := map[string]int{} // key → ID
	for _, b := range All() {
		known[b.Key] = b.ID
	}
	seen := map[string]bool{}
	for _, e := range t.Benchmarks {
		if e.Key == "" || e.ID == 0 {
			return nil, fmt.Errorf("%w: entry without id/key: %+v", ErrTargets, e)
		}
		// Entry reads the first entry of a key: a second one (say a
		// loosened copy appended at the end) was silently ignored.
		if seen[e.Key] {
			return nil, fmt.Errorf("%w: benchmark %q has two entries", ErrTargets, e.Key)
		}
		// An entry no benchmark reads (a misspelt key beside the right
		// one) was silently ignored.
		if known[e.Key] == 0 {
			return nil, fmt.Errorf("%w: entry %q names no benchmark", ErrTargets, e.Key)
		}
		// The id is the number the table prints: two entries with id 7,
		// or replay's under #7, were accepted
		// (TestTargetsRefuseWrongID).
		if e.ID != known[e.Key] {
			return nil, fmt.Errorf("%w: entry %q has id %d: benchmark %q is #%d", ErrTargets, e.Key, e.ID, e.Key, known[e.Key])
		}
		seen[e.Key] = true
	}
	for _, b := range All() {
		if !seen[b.Key] && !b.injected {
			return nil, fmt.Errorf("%w: no entry for benchmark %q", ErrTargets, b.Key)
		}
		if err := t.checkEntry(b); err != nil {
			return nil, err
		}
	}
	return &t, nil
}

// checkEntry checks b's targets entry: it holds every gate threshold of
// b and no threshold b does not read (see Benchmark.reads), every size b
// reads (and its quick_ variant, where there is one) is a whole number
// from 1 to its bound, and the sizes of each mode meet b's Limits. A size
// of 0 ran no work and let checks like "every step matched the reference"
// pass over nothing (#9 with 0 steps, #10 with a 0-deep chain); a missing
// one became int(NaN); a huge one ("sources": 1e12) ran out of memory or
// for hours. A missing or misspelt gate failed the benchmark with "target
// <= NaN", and a misspelt one was otherwise ignored
// (TestTargetsRefuseMissingOrUnknownThresholds).
func (t *Targets) checkEntry(b Benchmark) error {
	e := t.Entry(b.Key)
	names := make([]string, 0, len(e.Thresholds))
	for n := range e.Thresholds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !b.reads(n) {
			return fmt.Errorf("%w: %s: unknown threshold %q (it reads %s)", ErrTargets, b.Key, n, strings.Join(b.thresholdNames(), ", "))
		}
	}
	for _, g := range b.Gates {
		if _, ok := e.Thresholds[g]; !ok {
			return fmt.Errorf("%w: %s: threshold %q missing", ErrTargets, b.Key, g)
		}
	}
	for i, s := range append(slices.Clone(b.Sizes), b.OptionalSizes...) {
		if _, ok := e.Thresholds[s.Name]; !ok && i < len(b.Sizes) {
			return fmt.Errorf("%w: %s: size %q missing", ErrTargets, b.Key, s.Name)
		}
		// Without it, --quick ran the full size without a word.
		if _, ok := e.Thresholds["quick_"+s.Name]; !ok && s.Quick {
			return fmt.Errorf("%w: %s: size %q missing", ErrTargets, b.Key, "quick_"+s.Name)
		}
		for _, n := range []string{s.Name, "quick_" + s.Name} {
			v, ok := e.Thresholds[n]
			if !ok {
				continue
			}
			if !(v >= 1 && v == math.Trunc(v)) {
				return fmt.Errorf("%w: %s: size %q is %g, want a whole number >= 1", ErrTargets, b.Key, n, v)
			}
			if v > s.Max {
				return fmt.Errorf("%w: %s: size %q is %g, above its bound %g", ErrTargets, b.Key, n, v, s.Max)
			}
		}
	}
	if b.Limits == nil {
		return nil
	}
	for _, quick := range []bool{false, true} {
		env := Env{Config: Config{Quick: quick}, Entry: e, bench: &b}
		err := b.Limits(env.Threshold)
		if err == nil {
			err = env.undeclaredErr()
		}
		if err != nil {
			mode := "full"
			if quick {
				mode = "quick"
			}
			return fmt.Errorf("%w: %s (%s sizes): %w", ErrTargets, b.Key, mode, err)
		}
	}
	return nil
}

// atMost returns an error when the product of the named sizes is over
// bound, naming each size and its value.
func atMost(size func(string) float64, bound float64, what string, names ...string) error {
	p := 1.0
	parts := make([]string, len(names))
	for i, n := range names {
		v := size(n)
		p *= v
		parts[i] = fmt.Sprintf("%s %g", n, v)
	}
	if p > bound {
		return fmt.Errorf("%s = %g %s, above its bound %g", strings.Join(parts, " × "), p, what, bound)
	}
	return nil
}

// LoadTargets reads a targets file, or the embedded one when path is "".
func LoadTargets(path string) (*Targets, error) {
	pub, err := ParseTargets(defaultTargets)
	if err != nil || path == "" {
		return pub, err
	}
	b, err := readTargetsFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTargets(b)
	if err != nil {
		return nil, err
	}
	t.changes = diffTargets(pub, t)
	return t, nil
}

// readTargetsFile reads path, refusing anything but a regular file of at
// most maxTargetsFileBytes.
func readTargetsFile(path string) ([]byte, error) {
	// Checked before the open too: opening a FIFO blocks until a writer
	// comes.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTargets, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrTargets, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTargets, err)
	}
	defer f.Close() //nolint:errcheck // read only
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTargets, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrTargets, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTargetsFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTargets, err)
	}
	if len(b) > maxTargetsFileBytes {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrTargets, path, maxTargetsFileBytes)
	}
	return b, nil
}

// Entry returns the target entry for key.
func (t *Targets) Entry(key string) TargetEntry {
	for _, e := range t.Benchmarks {
		if e.Key == key {
			return e
		}
	}
	return TargetEntry{Key: key, Thresholds: map[string]float64{}}
}

// Config is one harness run's settings. Run checks it with Validate.
type Config struct {
	Quick bool
	// Seed seeds every random workload, as it is: runs with the same
	// seed do the same work, and 0 is a seed like any other (it ran as
	// seed 1, so that seeds 0 and 1 did the same work).
	Seed uint64
	// Workers is the largest worker count of the multi-threaded
	// measurements, 0..mmsb.MaxWorkers; 0 means runtime.NumCPU(), at
	// most mmsb.MaxWorkers.
	Workers int
	// Dir is an existing directory for the benchmarks that use the
	// disk; "" means the system's temporary directory.
	Dir string
	// Progress, if set, is told about each benchmark as it starts.
	Progress func(id int, name string)
}

// ErrConfig marks a Config that Run refuses (Config.Validate); the
// error is a *ConfigError.
var ErrConfig = errors.New("harness: invalid config")

// ConfigError names the Config field that Validate refuses, its value
// and the reason (with the bound).
type ConfigError struct {
	Field  string // "Workers", "Dir"
	Value  any
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v: %s %v: %s", ErrConfig, e.Field, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrConfig) hold.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// Validate says what is wrong with c (a *ConfigError); nil when Run can
// use it. It is the one check of these settings: `mmsb validate` passes
// its flags through it.
func (c Config) Validate() error {
	if c.Workers < 0 || c.Workers > mmsb.MaxWorkers {
		// #5 measures every worker count from 2 to Workers, each a bus
		// of that many workers: 100,000,000 ran 1,023 full measurements
		// before the bus refused 1,025 workers, and a Go caller's huge
		// count started that many goroutines.
		return &ConfigError{Field: "Workers", Value: c.Workers,
			Reason: fmt.Sprintf("must be in 0..%d (0: the number of CPUs)", mmsb.MaxWorkers)}
	}
	if c.Dir != "" {
		// Only #7 uses it: a missing one failed that benchmark as if
		// the bus had, after every other benchmark had run.
		st, err := os.Stat(c.Dir)
		if err != nil {
			return &ConfigError{Field: "Dir", Value: c.Dir, Reason: err.Error()}
		}
		if !st.IsDir() {
			return &ConfigError{Field: "Dir", Value: c.Dir, Reason: "not a directory"}
		}
	}
	return nil
}

// Env is what a benchmark sees: its thresholds, the run's mode, and a
// scratch directory.
type Env struct {
	Config
	Entry TargetEntry

	bench      *Benchmark // whose Env, when Run made it: Threshold checks the names it reads
	undeclared []string   // the names read that bench does not declare
}

// Threshold returns a threshold, preferring "quick_<name>" in quick mode,
// NaN when the entry has none. In a Run, reading a threshold the
// benchmark does not declare (Benchmark.Sizes, OptionalSizes, Gates)
// fails it: its entry was not checked to hold that threshold.
func (e *Env) Threshold(name string) float64 {
	if e.bench != nil && !e.bench.reads(name) && !slices.Contains(e.undeclared, name) {
		e.undeclared = append(e.undeclared, name)
	}
	if e.Quick {
		if v, ok := e.Entry.Thresholds["quick_"+name]; ok {
			return v
		}
	}
	v, ok := e.Entry.Thresholds[name]
	if !ok {
		return math.NaN()
	}
	return v
}

// undeclaredErr says which thresholds the benchmark read without
// declaring them (nil: none).
func (e *Env) undeclaredErr() error {
	if len(e.undeclared) == 0 {
		return nil
	}
	return fmt.Errorf("benchmark %s reads thresholds it does not declare in Sizes, OptionalSizes or Gates: %s (a defect of the benchmark)",
		e.bench.Key, strings.Join(e.undeclared, ", "))
}

// Int returns a threshold as an int.
func (e *Env) Int(name string) int { return int(e.Threshold(name)) }

// Check is one pass/fail comparison of a benchmark.
type Check struct {
	Name     string  `json:"name"`
	Semantic bool    `json:"semantic"` // gates in quick mode too
	Pass     bool    `json:"pass"`
	Value    float64 `json:"value"`
	Target   string  `json:"target"`
	Unit     string  `json:"unit,omitempty"`
}

// Result is one benchmark's outcome.
type Result struct {
	ID       int                  `json:"id"`
	Key      string               `json:"key"`
	Name     string               `json:"name"`
	Target   string               `json:"target"`
	Pass     bool                 `json:"pass"`
	Summary  string               `json:"summary"` // the figure shown in the table
	Checks   []Check              `json:"checks"`
	Metrics  map[string]float64   `json:"metrics"`
	Series   map[string][]float64 `json:"series,omitempty"` // for the report's charts
	Error    string               `json:"error,omitempty"`
	Duration time.Duration        `json:"duration_ns"`
}

// Semantic records a semantic check.
func (r *Result) Semantic(name string, pass bool, value float64, target string) {
	r.Checks = append(r.Checks, Check{Name: name, Semantic: true, Pass: pass, Value: value, Target: target})
}

// Timing records a timing (machine-dependent) check.
func (r *Result) Timing(name string, pass bool, value float64, unit, target string) {
	r.Checks = append(r.Checks, Check{Name: name, Pass: pass, Value: value, Unit: unit, Target: target})
}

// Metric records a figure.
func (r *Result) Metric(name string, v float64) {
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	r.Metrics[name] = v
}

// Benchmark is one of the ten.
type Benchmark struct {
	ID   int
	Key  string
	Name string
	Run  func(ctx context.Context, env *Env, r *Result) error
	// Sizes names the thresholds that size the work (ticks, deltas,
	// pages, ...): each must be in the targets entry, a whole number from
	// 1 to its Max.
	Sizes []Size
	// OptionalSizes names the thresholds that size the work when given
	// (the benchmark has a default otherwise): each, when given, must be
	// from 1 to its Max too.
	OptionalSizes []Size
	// Gates names the thresholds its checks compare with (max_divergence,
	// min_purity, ...): each must be in the targets entry. A benchmark
	// reads no threshold but its sizes and gates (Env.Threshold fails one
	// that reads another), and a targets entry holds no other (with the
	// quick_ variants: ParseTargets refuses the rest).
	Gates []string
	// Limits, when set, checks what the sizes of one mode (size returns
	// the quick_ variant in quick mode, NaN for a size left out) allow
	// together: a product that bounds memory, or a size that must fit in
	// another. It runs after every size is checked on its own.
	Limits func(size func(name string) float64) error

	injected bool // added by Inject: needs no targets entry
}

// Size is a threshold that sizes a benchmark's work, and its upper bound:
// the published size with a wide margin, low enough that the work fits in
// memory and ends. docs/validate.md lists every bound.
type Size struct {
	Name string
	Max  float64
	// Quick: the targets entry must hold quick_<Name> too, the size of a
	// --quick run (the published file does); without it --quick ran the
	// full size.
	Quick bool
}

// thresholdNames lists the thresholds b reads: its sizes, then its
// gates, each followed by its quick_ variant (Env.Threshold prefers it
// under --quick).
func (b *Benchmark) thresholdNames() []string {
	var out []string
	for _, s := range append(slices.Clone(b.Sizes), b.OptionalSizes...) {
		out = append(out, s.Name, "quick_"+s.Name)
	}
	for _, g := range b.Gates {
		out = append(out, g, "quick_"+g)
	}
	return out
}

// reads reports whether b reads the threshold name (see thresholdNames).
func (b *Benchmark) reads(name string) bool {
	return slices.Contains(b.thresholdNames(), name)
}

// ErrInject means Inject was given a benchmark without an ID, key or Run
// function, or one whose ID or key is already registered.
var ErrInject = errors.New("harness: cannot inject benchmark")

var (
	registryMu sync.Mutex
	registry   []Benchmark
)

func register(b Benchmark) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, b)
}

// Inject adds b to the registry until remove is called. It is the seam
// through which tests of programs that drive the harness (cmd/mmsb) feed it
// a benchmark that fails in a way no real one can be made to on demand
// (a non-finite figure, an error, a panic), so that the whole path from
// Run to the printed table, the JSON and the history is exercised. An
// injected benchmark needs no entry in the targets file (its Env sees
// empty thresholds). Not for production use.
func Inject(b Benchmark) (remove func(), err error) {
	if b.ID <= 0 || b.Key == "" || b.Run == nil {
		return nil, fmt.Errorf("%w: needs an ID > 0, a key and a Run function", ErrInject)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range registry {
		if r.ID == b.ID || r.Key == b.Key {
			return nil, fmt.Errorf("%w: ID %d or key %q already registered (by %q)", ErrInject, b.ID, b.Key, r.Key)
		}
	}
	b.injected = true
	registry = append(registry, b)
	return func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		for i, r := range registry {
			if r.injected && r.ID == b.ID {
				registry = append(registry[:i:i], registry[i+1:]...)
				return
			}
		}
	}, nil
}

// All returns the benchmarks in ID order.
func All() []Benchmark {
	registryMu.Lock()
	out := append([]Benchmark(nil), registry...)
	registryMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Report is a whole run.
type Report struct {
	Started  time.Time `json:"started"`
	Quick    bool      `json:"quick"`
	Seed     uint64    `json:"seed"` // Config.Seed: a rerun with it does the same work
	Machine  string    `json:"machine"`
	GoVer    string    `json:"go_version"`
	Results  []Result  `json:"results"`
	Passed   int       `json:"passed"`
	Total    int       `json:"total"`
	AllPass  bool      `json:"all_pass"` // at least one benchmark ran, and every one passed
	Duration float64   `json:"duration_seconds"`
	// TargetChanges: how the targets run against differ from the
	// published ones (Targets.Changes); empty for the published targets.
	TargetChanges []string `json:"target_changes,omitempty"`
}

// Run runs the selected benchmarks (all when only is empty). It runs
// nothing and returns an error wrapping ErrConfig when cfg.Validate
// refuses cfg; a benchmark that fails is reported in the Report, not as
// an error.
func Run(ctx context.Context, cfg Config, targets *Targets, only []int) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Workers == 0 {
		// A machine with more CPUs than a bus takes workers measures
		// up to the most it takes.
		cfg.Workers = min(runtime.NumCPU(), mmsb.MaxWorkers)
	}
	rep := &Report{Started: time.Now().UTC(), Quick: cfg.Quick, Seed: cfg.Seed, GoVer: runtime.Version(),
		Machine:       fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		TargetChanges: targets.Changes()}
	start := time.Now()
	for _, b := range All() {
		if len(only) > 0 && !contains(only, b.ID) {
			continue
		}
		if cfg.Progress != nil {
			cfg.Progress(b.ID, b.Name)
		}
		env := &Env{Config: cfg, Entry: targets.Entry(b.Key), bench: &b}
		res := Result{ID: b.ID, Key: b.Key, Name: b.Name, Target: env.Entry.Target}
		t0 := time.Now()
		// Targets built without ParseTargets are checked here too: a
		// benchmark sized to do nothing fails instead of passing.
		err := targets.checkEntry(b)
		if err == nil {
			err = runOne(ctx, b, env, &res)
		}
		if err == nil {
			err = env.undeclaredErr()
		}
		res.Duration = time.Since(t0)
		if err != nil {
			res.Error = err.Error()
		}
		// A pass needs at least one check that gates in this mode: in a
		// quick run a benchmark that recorded only timing checks gated on
		// nothing and passed.
		gating := 0
		res.Pass = err == nil
		for _, c := range res.Checks {
			if c.Semantic || !cfg.Quick {
				gating++
				if !c.Pass {
					res.Pass = false
				}
			}
		}
		res.Pass = res.Pass && gating > 0
		if res.Pass {
			rep.Passed++
		}
		rep.Total++
		rep.Results = append(rep.Results, res)
		runtime.GC()
	}
	// A run that selected no benchmark checked nothing: not a pass.
	rep.AllPass = rep.Total > 0 && rep.Passed == rep.Total
	rep.Duration = time.Since(start).Seconds()
	return rep, nil
}

// runOne runs a benchmark, turning a panic into a failure.
func runOne(ctx context.Context, b Benchmark, env *Env, r *Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return b.Run(ctx, env, r)
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// WriteTable prints the seed's table.
func (rep *Report) WriteTable(w io.Writer) {
	fmt.Fprintln(w, "=== MMSB Benchmark Validation ===")
	for _, r := range rep.Results {
		mark := "✓"
		if !r.Pass {
			mark = "✗"
		}
		label := fmt.Sprintf("#%d:", r.ID)
		line := fmt.Sprintf("%s %-4s %s (%s)", mark, label, r.Name, r.Summary)
		if r.Error != "" {
			line += " error: " + r.Error
		}
		var failed []string
		for _, c := range r.Checks {
			if !c.Pass {
				kind := "timing"
				if c.Semantic {
					kind = "semantic"
				}
				failed = append(failed, fmt.Sprintf("%s %s=%s, target %s", kind, c.Name, fmtValue(c.Value, c.Unit), c.Target))
			}
		}
		line += "  target: " + r.Target
		if !r.Pass && r.Error == "" && len(failed) == 0 {
			failed = append(failed, "no check gates in this mode")
		}
		if len(failed) > 0 {
			line += "  ← " + strings.Join(failed, "; ")
		}
		fmt.Fprintln(w, line)
	}
	mode := "full"
	if rep.Quick {
		mode = "quick: timing checks shown, not gating"
	}
	if len(rep.TargetChanges) > 0 {
		mode += fmt.Sprintf("; NOT the published targets: %d changed", len(rep.TargetChanges))
	}
	fmt.Fprintf(w, "\nResult: %d/%d PASS (%s; %s; %.1fs)\n", rep.Passed, rep.Total, mode, rep.Machine, rep.Duration)
	for _, c := range rep.TargetChanges {
		fmt.Fprintf(w, "  target changed: %s\n", c)
	}
}

func fmtValue(v float64, unit string) string {
	s := fmt.Sprintf("%.4g", v)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// HumanRate formats a rate like 12.3M/s.
func HumanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fK/s", v/1e3)
	}
	return fmt.Sprintf("%.0f/s", v)
}
