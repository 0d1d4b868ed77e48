package validate

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/mmsb-go/mmsb"
)

// DefaultPurityRuns is how many times Purity calls each function when
// Options.Runs is 0.
const DefaultPurityRuns = 3

// Purity re-runs the recompute function of every binding Options.Runs
// times (default 3, at least 2, at most MaxPurityRuns), each time on fresh copies of the parents' bytes with
// out pre-filled with the page's current bytes, as propagation does. It
// reports a function that fails or panics, outputs that differ between
// runs (non-determinism), and inputs changed by the call (compared with
// saved copies). When the page's latest derivation is known and no parent
// nor the page itself was written since, the output must also equal the
// page's current bytes (derived consistency). Checked counts the bindings
// run; Skipped those that could not be (function not registered, page or
// parent unreadable: reported as problems too); figures: calls,
// consistency_checked.
func Purity(ctx context.Context, t Target, o Options) (Report, error) {
	start := time.Now()
	r, rep := newReporter("purity", &o)
	if err := begin(ctx, "purity", o); err != nil {
		return *rep, err
	}
	e, done, err := t.open(ctx)
	if err != nil {
		return *rep, err
	}
	defer done()
	runs := o.Runs
	if runs == 0 { // negative is refused by begin
		runs = DefaultPurityRuns
	}
	// Non-determinism shows only as two runs that differ: with one run
	// that check could never fail.
	runs = max(runs, 2)
	var calls, consistent int64
	for _, id := range e.Bindings() {
		if err := ctxErr(ctx, "purity"); err != nil {
			return *rep, err
		}
		c, ok, n, err := checkBinding(ctx, e, id, runs, r, true)
		calls += int64(n) // calls made: a binding that fails or cannot run makes fewer
		if err != nil {
			return *rep, err
		}
		if c {
			consistent++
		}
		// A binding that could not be run (reported) was not checked: it
		// is skipped, never also counted as checked.
		if !ok {
			rep.Skipped++
		} else {
			rep.Checked++
		}
	}
	r.figure("calls", float64(calls))
	r.figure("consistency_checked", float64(consistent))
	rep.Duration = time.Since(start)
	return *rep, nil
}

// bindingInputs snapshots what a recompute of page id reads.
type bindingInputs struct {
	b        mmsb.Binding
	fn       mmsb.RecomputeFunc
	inputs   [][]byte
	cur      []byte
	upToDate bool // latest derivation known and nothing written since
}

// bindingBus is what a binding's check reads of a bus. *mmsb.Bus is the
// only one outside tests; a test wraps it to make the reads of one page
// fail, as a live bus's do only when it closes under the check
// (TestPurityReportsFailedReads).
type bindingBus interface {
	Binding(id mmsb.PageID) (mmsb.Binding, bool)
	Func(name string) (mmsb.RecomputeFunc, bool)
	Page(id mmsb.PageID) (mmsb.PageInfo, error)
	ReadPage(id mmsb.PageID, dst []byte) ([]byte, mmsb.Epoch, error)
	LastDerivation(id mmsb.PageID) (mmsb.Derivation, bool)
}

// readBinding reads a binding's inputs; ok is false when the page or a
// parent is missing (reported) or the function is not registered.
func readBinding(e bindingBus, id mmsb.PageID, r *reporter) (bindingInputs, bool) {
	var bi bindingInputs
	b, ok := e.Binding(id)
	if !ok {
		return bi, false
	}
	bi.b = b
	where := fmt.Sprintf("binding of page %d (%s)", id, b.Func)
	fn, ok := e.Func(b.Func)
	if !ok {
		r.addf(KindUnknownFunc, 0, id, where, "function %q is not registered", b.Func)
		return bi, false
	}
	bi.fn = fn
	before, err := e.Page(id)
	if err != nil {
		r.addf(KindFailed, 0, id, where, "bound page: %v", err)
		return bi, false
	}
	lastLSNs := make([]mmsb.LSN, len(b.Parents))
	for i, p := range b.Parents {
		info, err := e.Page(p)
		if err != nil {
			r.addf(KindFailed, 0, id, where, "parent %d: %v", p, err)
			return bi, false
		}
		lastLSNs[i] = info.LastLSN
		in, _, err := e.ReadPage(p, nil)
		if err != nil {
			r.addf(KindFailed, 0, id, where, "parent %d: %v", p, err)
			return bi, false
		}
		bi.inputs = append(bi.inputs, in)
	}
	bi.cur, _, err = e.ReadPage(id, nil)
	if err != nil {
		r.addf(KindFailed, 0, id, where, "bound page: %v", err)
		return bi, false
	}
	// The page is up to date when its latest derivation read exactly the
	// parents' current last writes and nothing wrote the page since. Any
	// write racing with these reads changes a LastLSN and clears it.
	d, known := e.LastDerivation(id)
	after, err := e.Page(id)
	bi.upToDate = known && err == nil && after.LastLSN == d.LSN && before.LastLSN == d.LSN && len(d.Reads) == len(b.Parents)
	for i := 0; bi.upToDate && i < len(b.Parents); i++ {
		info, err := e.Page(b.Parents[i])
		bi.upToDate = err == nil && d.Reads[i].Page == b.Parents[i] && d.Reads[i].LSN == lastLSNs[i] && info.LastLSN == lastLSNs[i]
	}
	return bi, true
}

// checkBinding runs one binding's function runs times and reports what is
// wrong. consistent says whether derived consistency was checked; ok is
// false when the binding could not be run; calls is how many times the
// function was called (a failed run ends the binding's check). err is
// ctx's error (wrapped) when ctx ended between two runs: up to
// MaxPurityRuns calls of a slow function must not outlast a cancel.
func checkBinding(ctx context.Context, e bindingBus, id mmsb.PageID, runs int, r *reporter, purity bool) (consistent, ok bool, calls int, err error) {
	bi, ok := readBinding(e, id, r)
	if !ok {
		return false, false, 0, nil
	}
	where := fmt.Sprintf("binding of page %d (%s)", id, bi.b.Func)
	var first []byte
	for k := 0; k < runs; k++ {
		if err := ctxErr(ctx, r.rep.Name); err != nil {
			return false, true, calls, err
		}
		ins := make([][]byte, len(bi.inputs))
		for i, in := range bi.inputs {
			ins[i] = bytes.Clone(in)
		}
		out := bytes.Clone(bi.cur)
		calls++
		if err := call(bi.fn, ins, bytes.Clone(bi.b.Params), out); err != nil {
			r.addf(KindFailed, 0, id, where, "run %d failed: %v", k, err)
			return false, true, calls, nil
		}
		if purity {
			for i := range ins {
				if off := firstDiff(ins[i], bi.inputs[i]); off >= 0 {
					r.addf(KindSideEffect, 0, id, where, "run %d modified input %d (parent %d) at offset %d: functions must leave inputs untouched", k, i, bi.b.Parents[i], off)
				}
			}
		}
		if k == 0 {
			first = out
			continue
		}
		if off := firstDiff(out, first); off >= 0 {
			r.addf(KindNondeterministic, 0, id, where, "run %d output differs from run 0 at offset %d on identical inputs: function is not deterministic", k, off)
		}
	}
	if bi.upToDate {
		if off := firstDiff(first, bi.cur); off >= 0 {
			r.addf(KindInconsistent, 0, id, where, "page %d holds bytes different from its function of its parents (first at offset %d) although no parent changed since its last derivation", id, off)
		}
		return true, true, calls, nil
	}
	return false, true, calls, nil
}

// call runs fn, turning a panic into an error.
func call(fn mmsb.RecomputeFunc, inputs [][]byte, params, out []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn(inputs, params, out)
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
