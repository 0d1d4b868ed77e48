package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestInvariantsCatchF64SizeNotMultipleOf8: finite-f64's size check has a
// control of its own. A live bus accepts an f64 page of 12 bytes; the
// invariant names it (kind size), and the whole elements it holds are
// still checked. With the size comparison replaced by false every test
// of the package passed (tried).
func TestInvariantsCatchF64SizeNotMultipleOf8(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 12, Meta: f64Meta()}, {Size: 16, Meta: f64Meta()}})
	mustNil(t, err)
	rep, err := CheckInvariants(ctx, Live(e), Options{})
	requireProblem(t, rep, err, "f64 page 1 has size 12, not a multiple of 8")
	if rep.Total != 1 || rep.Problems[0].Kind != KindSize || rep.Problems[0].Page != ids[0] || rep.Problems[0].Where != InvFiniteF64 {
		t.Fatalf("want exactly one %q problem of kind %q on page %d: %v", InvFiniteF64, KindSize, ids[0], rep.Problems)
	}
}
