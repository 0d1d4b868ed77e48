package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// otherDerivation is a bus whose LastDerivation of every page reads the
// parents change says: a derivation made under another binding, with
// another parent count, which a live bus forgets on Unbind.
type otherDerivation struct {
	*mmsb.Bus
	change func([]mmsb.ParentRead) []mmsb.ParentRead
}

func (o otherDerivation) LastDerivation(id mmsb.PageID) (mmsb.Derivation, bool) {
	d, ok := o.Bus.LastDerivation(id)
	d.Reads = o.change(d.Reads)
	return d, ok
}

// TestPurityDerivationOfOtherParentCount: a page whose latest derivation
// read fewer or more parents than its binding has is not up to date with
// that binding, so the binding check does not compare it with its
// function (and neither panics nor reports it). Without the count
// comparison, fewer reads indexed past their end and more passed as
// compared; it had no test. The control: the derivation as the bus has
// it is compared.
func TestPurityDerivationOfOtherParentCount(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	mustNil(t, err)
	mustNil(t, e.Bind(ctx, ids[2], "f64.sum", nil, ids[:2]))
	_, err = e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}}}}})
	mustNil(t, err)
	_, err = e.Propagate(ctx)
	mustNil(t, err)
	for _, c := range []struct {
		name   string
		change func([]mmsb.ParentRead) []mmsb.ParentRead
		want   bool
	}{
		{"as the bus has it", func(r []mmsb.ParentRead) []mmsb.ParentRead { return r }, true},
		{"one read fewer", func(r []mmsb.ParentRead) []mmsb.ParentRead { return r[:len(r)-1] }, false},
		{"one read more", func(r []mmsb.ParentRead) []mmsb.ParentRead { return append(r, r[0]) }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, rep := newReporter("purity", &Options{})
			consistent, ok, _, err := checkBinding(ctx, otherDerivation{e, c.change}, ids[2], 2, r, true)
			mustNil(t, err)
			if !ok || consistent != c.want || rep.Total != 0 {
				t.Fatalf("checked %v, compared %v (want %v), problems %v", ok, consistent, c.want, rep.Problems)
			}
		})
	}
}
