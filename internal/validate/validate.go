// Package validate holds MMSB's validators: streaming consistency checks
// of a bus, each of which reports every problem it finds (not just the
// first) through a callback and returns a summary. They run online, against
// a live *mmsb.Bus, or offline, against a data directory.
//
//   - Replay: the log replayed into a fresh bus equals the live state.
//   - Integrity: every log record's framing, CRC and schema; every delta
//     applies to a page that existed at its LSN; epochs +1 per delta.
//   - Graph: acyclic; every edge and binding resolves.
//   - Purity: recompute functions are deterministic and leave inputs alone.
//   - Invariants: built-in state invariants plus user-registered ones.
//   - Provenance: provenance answers agree with the log.
//
// See docs/validators.md for what each one proves and how to read it.
package validate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// ErrNoTarget means a Target names neither a live engine nor a data directory,
// or the validator needs what the target lacks (a log, a directory).
var ErrNoTarget = errors.New("validate: no usable target")

// ErrProblems is returned by hooks (Attach, Strict) when a validator found
// problems; the wrapped message summarizes them.
var ErrProblems = errors.New("validate: problems found")

// ErrNotCompared is returned by Report.Err when a validator found no
// problem but could not make the comparison it exists for (Report.NotCompared
// says why): such a run proves nothing, so it is not reported as a pass.
var ErrNotCompared = errors.New("validate: not compared")

// DefaultMaxProblems is how many problems a Report keeps when
// Options.MaxProblems is 0. Every problem still reaches Options.OnProblem
// and is counted in Report.Total.
const DefaultMaxProblems = 100

// Problem is one finding.
type Problem struct {
	Validator string      `json:"validator"`      // which validator found it
	Kind      ProblemKind `json:"kind"`           // what class of problem it is
	Where     string      `json:"where"`          // file and offset, page, binding, ...
	What      string      `json:"what"`           // what is wrong
	LSN       mmsb.LSN    `json:"lsn,omitempty"`  // the operation concerned (0: none)
	Page      mmsb.PageID `json:"page,omitempty"` // the page concerned (0: none)
}

// ProblemKind classifies a Problem, so that programs (the validation
// harness, dashboards) can count problems by class without parsing text.
type ProblemKind string

// Problem kinds.
const (
	KindFraming          ProblemKind = "framing"          // bad CRC, torn or malformed frame, LSN gap in the log files
	KindSchema           ProblemKind = "schema"           // a record or operation that does not decode or fit its page; a page declaring an unknown element type
	KindOrphan           ProblemKind = "orphan"           // an operation on a page (or parent) that does not exist at its LSN
	KindEpoch            ProblemKind = "epoch"            // an epoch that does not advance by exactly one per delta
	KindLSN              ProblemKind = "lsn"              // LSNs that are not contiguous, or stale parent LSNs
	KindState            ProblemKind = "state"            // log, checkpoint and live state disagree
	KindDivergence       ProblemKind = "divergence"       // replay differs from the live state
	KindCycle            ProblemKind = "cycle"            // the graph is not acyclic
	KindUnresolved       ProblemKind = "unresolved"       // an edge or binding names a missing page
	KindUnknownFunc      ProblemKind = "unknown-function" // a binding names a function this program has not registered
	KindSideEffect       ProblemKind = "side-effect"      // a recompute function modified its inputs
	KindNondeterministic ProblemKind = "nondeterministic" // a recompute function gave different outputs on equal inputs
	KindInconsistent     ProblemKind = "inconsistent"     // a derived page differs from its function of its parents
	KindNonFinite        ProblemKind = "non-finite"       // NaN or Inf in a page declared f64
	KindSize             ProblemKind = "size"             // page sizes inconsistent
	KindInvariant        ProblemKind = "invariant"        // a user invariant failed
	KindProvenance       ProblemKind = "provenance"       // a provenance answer disagrees with the log
	KindFailed           ProblemKind = "failed"           // the check itself could not run (replay failed, function errored, ...)
)

func (p Problem) String() string {
	s := p.Validator + ": " + p.What
	if p.Where != "" {
		s += " (" + p.Where + ")"
	}
	return s
}

// Figure is a named measurement a validator reports besides its problems
// (bytes differing, L2 divergence, records scanned, ...).
type Figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Report summarizes one validator run.
type Report struct {
	Name     string    `json:"name"`
	Checked  int64     `json:"checked"`  // items checked (ops, pages, bindings, samples)
	Skipped  int64     `json:"skipped"`  // items that could not be checked (see Notes)
	Total    int64     `json:"problems"` // problems found, including those not kept
	Problems []Problem `json:"details"`  // the first MaxProblems problems
	Figures  []Figure  `json:"figures,omitempty"`
	Notes    []string  `json:"notes,omitempty"` // what was not checked, and why
	// NotCompared is set (to the reason) when the validator could not make
	// the comparison it exists for, e.g. an offline replay with only one
	// starting point, which could only compare a replay with itself.
	NotCompared string        `json:"not_compared,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
}

// Outcome is a validator run's verdict.
type Outcome string

// Outcomes.
const (
	OutcomePass        Outcome = "pass"         // compared, no problem found
	OutcomeFail        Outcome = "fail"         // problems found
	OutcomeNotCompared Outcome = "not-compared" // no problem found, but nothing was compared (see NotCompared)
)

// Outcome returns the run's verdict: problems make it a failure; otherwise
// a run that could not compare anything is "not-compared", not a pass.
func (r *Report) Outcome() Outcome {
	switch {
	case r.Total > 0:
		return OutcomeFail
	case r.NotCompared != "":
		return OutcomeNotCompared
	}
	return OutcomePass
}

// OK reports whether the run found no problem and made its comparison
// (Outcome() == OutcomePass).
func (r *Report) OK() bool { return r.Outcome() == OutcomePass }

// Figure returns a figure by name (0, false if absent).
func (r *Report) Figure(name string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// Err returns nil when the report is a pass, an ErrNotCompared error
// naming the reason when nothing was compared, else an ErrProblems error
// naming the first problem and the total.
func (r *Report) Err() error {
	switch r.Outcome() {
	case OutcomePass:
		return nil
	case OutcomeNotCompared:
		return fmt.Errorf("%w: %s: %s", ErrNotCompared, r.Name, r.NotCompared)
	}
	first := ""
	if len(r.Problems) > 0 {
		first = ": first: " + r.Problems[0].String()
	}
	return fmt.Errorf("%w: %s: %d problem(s)%s", ErrProblems, r.Name, r.Total, first)
}

// Options tune a validator run. The zero value is usable.
type Options struct {
	// OnProblem, if set, is called for every problem as it is found
	// (streaming, not capped), from the validator's goroutine.
	OnProblem func(Problem)
	// MaxProblems is how many problems Report.Problems keeps
	// (0: DefaultMaxProblems; negative: none).
	MaxProblems int
	// Runs is how many times Purity calls each function (0: 3; 1 runs
	// as 2, since one run cannot show non-determinism; at most
	// MaxPurityRuns; negative is refused).
	Runs int
	// Samples is how many pages Provenance samples (0: 64; negative: all).
	Samples int
	// Seed makes Provenance's sampling reproducible.
	Seed uint64
}

// MaxPurityRuns bounds Options.Runs: Purity calls every function that
// many times per binding, so a huge count (a typo, an overflowed
// computation) held a check for hours. The harness's isolation benchmark
// sizes its runs up to this bound too.
const MaxPurityRuns = 1000

// Check reports whether o is usable: Runs from 0 to MaxPurityRuns. Every
// validator calls it before it starts (an ErrInvalidOption error naming
// the value and the bound); MaxProblems and Samples accept any value (a
// negative one means none kept and every page, as documented).
func (o Options) Check() error {
	if o.Runs < 0 || o.Runs > MaxPurityRuns {
		return fmt.Errorf("%w: validate.Options.Runs is %d, want 0 (the default, %d) to %d", mmsb.ErrInvalidOption, o.Runs, DefaultPurityRuns, MaxPurityRuns)
	}
	return nil
}

// Target is what a validator checks: a live engine, or a data directory.
type Target struct {
	// Engine is a live bus. When set, FS and Dir are ignored.
	Engine *mmsb.Bus
	// FS and Dir locate a bus's data directory for offline checks (FS nil:
	// the OS filesystem). The directory may be in use by a live writer.
	FS  vfs.FS
	Dir string
	// Funcs are the recompute functions (beyond the built-ins) that an
	// offline check registers in the bus it rebuilds.
	Funcs map[string]mmsb.RecomputeFunc
	// NoLog says that Dir was written by a bus without a log
	// (mmsb.Options.DisableLog): its checkpoints and no wal/ are its
	// whole history. The offline checks rebuild its newest checkpoint's
	// state (mmsb.Replay with DisableLog), and integrity and replay, which
	// check a state against its log, report not compared. Without it
	// such a directory reads as one whose log was removed: integrity
	// reports that, and the checks that rebuild the bus fail with
	// mmsb.ErrCorruption. Ignored with Engine. Offline sets it for a
	// directory whose checkpoints/log-mode says so (written since
	// 2026-12-06).
	NoLog bool
}

// Live returns a Target for a live mmsb.
func Live(e *mmsb.Bus) Target { return Target{Engine: e} }

// Offline returns a Target for the data directory dir on fs. NoLog is set
// when dir's checkpoints/log-mode says a bus without a log wrote it
// (tlog.ModeNoLog) and wal/ holds no segment; a mode file that does not read leaves it unset, and
// the checks that rebuild the bus report it (mmsb.Replay refuses it).
func Offline(fs vfs.FS, dir string, funcs map[string]mmsb.RecomputeFunc) Target {
	if fs == nil {
		fs = vfs.Default
	}
	mode, err := tlog.ReadMode(fs, fs.Join(dir, "checkpoints"))
	// Segments beside "no log" are what a crash left in an Open without a
	// log between recording it and removing them: they are checked as a
	// log (checkNoLog refused them as "written with a log").
	has, herr := tlog.HasSegment(fs, fs.Join(dir, "wal"))
	return Target{FS: fs, Dir: dir, Funcs: funcs, NoLog: err == nil && mode == tlog.ModeNoLog && herr == nil && !has}
}

// location returns the filesystem and directory holding the bus's files,
// after making a live engine's log readable.
func (t Target) location(ctx context.Context) (vfs.FS, string, error) {
	if t.Engine != nil {
		if err := t.closed(); err != nil {
			return nil, "", err
		}
		if err := t.Engine.Flush(ctx); err != nil {
			return nil, "", err
		}
		fs := t.Engine.FS()
		return fs, fs.Join(t.Engine.WALDir(), ".."), nil
	}
	if t.Dir == "" {
		return nil, "", fmt.Errorf("%w: target has neither an engine nor a directory", ErrNoTarget)
	}
	fs := t.FS
	if fs == nil {
		fs = vfs.Default
	}
	// A directory that is not there has no log to scan: integrity read it
	// as an empty bus and passed (TestValidatorsRefuseHostileTargets).
	if _, err := fs.List(t.Dir); vfs.IsNotExist(err) {
		return nil, "", fmt.Errorf("%w: data directory %s does not exist", ErrNoTarget, t.Dir)
	} else if err != nil {
		return nil, "", fmt.Errorf("validate: data directory %s: %w", t.Dir, err)
	}
	if t.NoLog {
		if err := checkNoLog(fs, t.Dir); err != nil {
			return nil, "", err
		}
	}
	return fs, t.Dir, nil
}

// checkNoLog refuses Target.NoLog for a directory whose wal/ holds a log
// segment: it was written with a log, and "not compared" would hide every
// problem of that log.
func checkNoLog(fs vfs.FS, dir string) error {
	walDir := fs.Join(dir, "wal")
	names, err := fs.List(walDir)
	if vfs.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, ok := tlog.ParseSegmentName(name); ok {
			return fmt.Errorf("%w: Target.NoLog, but %s holds log segment %s: the directory was written with a log", mmsb.ErrInvalidOption, walDir, name)
		}
	}
	return nil
}

// open returns the engine to check: the live one, or a bus rebuilt from
// the directory (closed by the returned function).
func (t Target) open(ctx context.Context) (*mmsb.Bus, func(), error) {
	if t.Engine != nil {
		// A closed bus still answers Bindings and Edges (what it was), so
		// a check that reads only those passed on it: refuse it up front.
		if err := t.closed(); err != nil {
			return nil, nil, err
		}
		return t.Engine, func() {}, nil
	}
	fs, dir, err := t.location(ctx)
	if err != nil {
		return nil, nil, err
	}
	e, err := mmsb.Replay(ctx, dir, mmsb.ReplayTarget{}, &mmsb.Options{FS: fs, Functions: t.Funcs, DisableLog: t.NoLog})
	if err != nil {
		return nil, nil, fmt.Errorf("validate: rebuild %s: %w", dir, err)
	}
	return e, func() { _ = e.Close() }, nil // a detached replay: no log to lose
}

// closed returns an mmsb.ErrClosed error when the target is a live bus
// that was closed, nil otherwise. A bus that failed before it was closed
// answers Err with its failure (mmsb.ErrFailed), not ErrClosed: purity
// then ran on it and listed one "bus closed" problem per binding, and the
// others failed with a bare ErrClosed from whichever read came first
// (TestValidatorsRefuseFailedThenClosedBus). The error wraps both, so a
// caller sees one error that says the bus is closed and why it had failed.
func (t Target) closed() error {
	if t.Engine == nil {
		return nil
	}
	err := t.Engine.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mmsb.ErrClosed):
		return err
	case t.Engine.Stats().Closed:
		return fmt.Errorf("%w (it had failed before: %w)", mmsb.ErrClosed, err)
	}
	return nil // failed but open: its pages, graph and log still read
}

// begin is what every validator checks before it starts: its options
// (Options.Check) and its context (a cancelled one ends it before any
// work, with ctx's error wrapped).
func begin(ctx context.Context, name string, o Options) error {
	if err := o.Check(); err != nil {
		return err
	}
	return ctxErr(ctx, name)
}

// ctxErr returns ctx's error, if any, wrapped with the validator's name:
// every long loop of a validator calls it, so that a cancelled check ends
// promptly (errors.Is(err, context.Canceled) holds).
func ctxErr(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("validate: %s: %w", name, err)
	}
	return nil
}

// reporter collects the problems of one run.
type reporter struct {
	rep   *Report
	o     *Options
	limit int
}

func newReporter(name string, o *Options) (*reporter, *Report) {
	rep := &Report{Name: name}
	limit := o.MaxProblems
	if limit == 0 {
		limit = DefaultMaxProblems
	}
	return &reporter{rep: rep, o: o, limit: limit}, rep
}

func (r *reporter) add(p Problem) {
	p.Validator = r.rep.Name
	r.rep.Total++
	if len(r.rep.Problems) < r.limit {
		r.rep.Problems = append(r.rep.Problems, p)
	}
	if r.o.OnProblem != nil {
		r.o.OnProblem(p)
	}
}

func (r *reporter) addf(kind ProblemKind, lsn mmsb.LSN, page mmsb.PageID, where, format string, args ...any) {
	r.add(Problem{Kind: kind, Where: where, What: fmt.Sprintf(format, args...), LSN: lsn, Page: page})
}

func (r *reporter) figure(name string, v float64) {
	r.rep.Figures = append(r.rep.Figures, Figure{Name: name, Value: v})
}

func (r *reporter) note(format string, args ...any) {
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf(format, args...))
}

// Func is the common signature of the validators.
type Func func(ctx context.Context, t Target, o Options) (Report, error)

// Named pairs a validator with its name.
type Named struct {
	Name string
	Fn   Func
}

// All lists the validators in the order RunAll runs them.
func All() []Named {
	return []Named{
		{"integrity", Integrity},
		{"replay", Replay},
		{"graph", Graph},
		{"purity", Purity},
		{"invariants", CheckInvariants},
		{"provenance", Provenance},
	}
}

// Lookup returns the validator called name.
func Lookup(name string) (Func, bool) {
	for _, v := range All() {
		if v.Name == name {
			return v.Fn, true
		}
	}
	return nil, false
}

// RunAll runs every validator (in All's order) and returns their reports.
// It stops at the first operational error (I/O, a target that cannot be
// opened); problems found do not stop it.
func RunAll(ctx context.Context, t Target, o Options) ([]Report, error) {
	if err := o.Check(); err != nil {
		return nil, err // before any validator: none of them would run
	}
	var out []Report
	for _, v := range All() {
		r, err := v.Fn(ctx, t, o)
		if err != nil {
			return out, fmt.Errorf("validate: %s: %w", v.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func sortedIDs[T any](m map[mmsb.PageID]T) []mmsb.PageID {
	ids := make([]mmsb.PageID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
