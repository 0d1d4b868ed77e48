package validate

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// failingReads is a bus whose Page or ReadPage of one page fails, and
// whose Binding of one page is gone: what a live bus shows only when it
// closes, or a binding is removed, under a check.
type failingReads struct {
	*mmsb.Bus
	pageFails, readFails, unbound mmsb.PageID
}

var errRead = errors.New("injected read failure")

func (f failingReads) Page(id mmsb.PageID) (mmsb.PageInfo, error) {
	if id == f.pageFails {
		return mmsb.PageInfo{}, errRead
	}
	return f.Bus.Page(id)
}

func (f failingReads) ReadPage(id mmsb.PageID, dst []byte) ([]byte, mmsb.Epoch, error) {
	if id == f.readFails {
		return dst, 0, errRead
	}
	return f.Bus.ReadPage(id, dst)
}

func (f failingReads) Binding(id mmsb.PageID) (mmsb.Binding, bool) {
	if id == f.unbound {
		return mmsb.Binding{}, false
	}
	return f.Bus.Binding(id)
}

// TestPurityReportsFailedReads is the control of the binding check's
// reads (purity and derived-consistent share it): a bound page or a
// parent whose description or bytes cannot be read is one problem of
// kind "failed" naming which, and the binding is not run (not counted as
// checked, no call made); a binding gone since the listing is skipped
// without a problem. Each of these report lines, and each early return,
// removed, passed every other test of the package (tried): the reads
// fail on a live bus only when it closes under the check.
func TestPurityReportsFailedReads(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	mustNil(t, err)
	parent, bound := ids[0], ids[1]
	mustNil(t, e.Bind(ctx, bound, "passthrough", nil, []mmsb.PageID{parent}))
	cases := []struct {
		name string
		bus  failingReads
		want string // "": no problem
	}{
		{"none", failingReads{Bus: e}, ""},
		{"bound page description", failingReads{Bus: e, pageFails: bound}, "bound page: injected read failure"},
		{"parent description", failingReads{Bus: e, pageFails: parent}, "parent 1: injected read failure"},
		{"parent bytes", failingReads{Bus: e, readFails: parent}, "parent 1: injected read failure"},
		{"bound page bytes", failingReads{Bus: e, readFails: bound}, "bound page: injected read failure"},
		{"binding gone", failingReads{Bus: e, unbound: bound}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, rep := newReporter("purity", &Options{})
			_, ok, calls, err := checkBinding(ctx, c.bus, bound, 2, r, true)
			mustNil(t, err)
			if c.name == "none" {
				if !ok || calls != 2 || rep.Total != 0 {
					t.Fatalf("clean binding: ok %v, %d calls, problems %v; want ok, 2 calls, none", ok, calls, rep.Problems)
				}
				return
			}
			if ok || calls != 0 {
				t.Fatalf("ok %v after %d call(s), want not run (false, 0)", ok, calls)
			}
			if c.want == "" {
				if rep.Total != 0 {
					t.Fatalf("problems %v, want none", rep.Problems)
				}
				return
			}
			if rep.Total != 1 || rep.Problems[0].Kind != KindFailed || rep.Problems[0].What != c.want ||
				rep.Problems[0].Page != bound || !strings.Contains(rep.Problems[0].Where, "binding of page 2") {
				t.Fatalf("%d problem(s) %+v, want one of kind %q: %q", rep.Total, rep.Problems, KindFailed, c.want)
			}
		})
	}
}
