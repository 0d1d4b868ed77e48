package validate

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestBindingNotRunIsNotCompared: a binding whose check could not run its
// function to the end (a read failed, the binding is gone, or the function
// itself failed) did not compare the page with its function, so
// checkBinding must not say it did. What it says is counted by the purity
// validator's consistency_checked and the invariant validator's
// derived_compared (which benchmarks #4 and #8 require to equal the
// bindings): with either early return answering "compared", every other
// test of the package passed. Control: the same binding, up to date and
// with a working function, is compared; once stale, it is run but not
// compared.
func TestBindingNotRunIsNotCompared(t *testing.T) {
	var fail atomic.Bool
	flaky := func(in [][]byte, _ []byte, out []byte) error {
		if fail.Load() {
			return errors.New("injected function failure")
		}
		copy(out, in[0])
		return nil
	}
	e := openBus(t, vfs.NewMem(), map[string]mmsb.RecomputeFunc{"h4.flaky": flaky})
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	mustNil(t, err)
	parent, bound := ids[0], ids[1]
	mustNil(t, e.Bind(ctx, bound, "h4.flaky", nil, []mmsb.PageID{parent}))
	_, err = e.Commit(ctx, []mmsb.Delta{{Page: parent, Runs: []mmsb.Run{{Data: []byte("parent!!")}}}})
	mustNil(t, err)
	_, err = e.Propagate(ctx)
	mustNil(t, err)

	cases := []struct {
		name     string
		bus      failingReads
		failFunc bool
		compared bool
	}{
		{"clean (control)", failingReads{Bus: e}, false, true},
		{"bound page description", failingReads{Bus: e, pageFails: bound}, false, false},
		{"parent bytes", failingReads{Bus: e, readFails: parent}, false, false},
		{"binding gone", failingReads{Bus: e, unbound: bound}, false, false},
		{"function fails", failingReads{Bus: e}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fail.Store(c.failFunc)
			defer fail.Store(false)
			r, _ := newReporter("purity", &Options{})
			compared, _, _, err := checkBinding(ctx, c.bus, bound, 2, r, true)
			mustNil(t, err)
			if compared != c.compared {
				t.Fatalf("checkBinding says compared %v, want %v", compared, c.compared)
			}
		})
	}
	// Through the validators: the failing function is a problem, and no
	// page was compared.
	fail.Store(true)
	defer fail.Store(false)
	for _, v := range []struct {
		run    func() (Report, error)
		figure string
	}{
		{func() (Report, error) { return Purity(ctx, Live(e), Options{}) }, "consistency_checked"},
		{func() (Report, error) { return NewInvariants().Check(ctx, e, Options{}) }, "derived_compared"},
	} {
		rep, err := v.run()
		mustNil(t, err)
		if n, _ := rep.Figure(v.figure); n != 0 || rep.Total == 0 {
			t.Errorf("%s: %s = %g with the function failing (problems %v), want 0 and a problem", rep.Name, v.figure, n, rep.Problems)
		}
	}
	// A stale page (its parent written since its last derivation, not
	// propagated) runs its function but cannot be compared: the
	// "compared" answer at the end of checkBinding, for a page not up to
	// date, also survived every test of the package as true.
	fail.Store(false)
	_, err = e.Commit(ctx, []mmsb.Delta{{Page: parent, Runs: []mmsb.Run{{Data: []byte("written!")}}}})
	mustNil(t, err)
	r, rep := newReporter("purity", &Options{})
	compared, ok, _, err := checkBinding(ctx, e, bound, 2, r, true)
	mustNil(t, err)
	if compared || !ok || rep.Total != 0 {
		t.Fatalf("stale page: compared %v, ran %v, problems %v; want not compared, ran, none", compared, ok, rep.Problems)
	}
}
