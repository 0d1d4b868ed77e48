package validate

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestProvenanceCatchesWrongKindOrLost: answers whose first write has the
// right LSN and page but says it is another kind of operation, has its
// Derived flag flipped, or marks the write lost, are each a provenance
// problem on every sample. Each of these three comparisons, dropped,
// passed every test of the package (no answer had a wrong kind, a wrong
// Derived flag or a false Lost). The bus's own answers pass (the control).
func TestProvenanceCatchesWrongKindOrLost(t *testing.T) {
	e := sparseBus(t)
	defer e.Close()
	o := Options{Samples: -1, Seed: 11}
	rep, err := Provenance(ctx, Live(e), o)
	requireOK(t, rep, err)
	for _, c := range []struct {
		name   string
		change func(w *mmsb.ProvenanceWrite)
		want   string
	}{
		{"other kind", func(w *mmsb.ProvenanceWrite) {
			if w.Kind == mmsb.OpCreatePage {
				w.Kind = mmsb.OpDelta
			} else {
				w.Kind = mmsb.OpCreatePage
			}
		}, "the log holds a"},
		{"derived flag flipped", func(w *mmsb.ProvenanceWrite) { w.Derived = !w.Derived }, "the log holds a"},
		{"lost", func(w *mmsb.ProvenanceWrite) { w.Lost = true }, "(lost true), the log's last writer of the range is LSN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ask := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
				r, err := e.Provenance(ctx, id, off, n, 0)
				if err == nil && len(r.Writes) > 0 {
					c.change(&r.Writes[0])
				}
				return r, err
			}
			rep, err := ProvenanceWith(ctx, e, o, ask)
			requireProblem(t, rep, err, c.want)
			if rep.Total != rep.Checked {
				t.Fatalf("%d problem(s) over %d sample(s), want one each: %v", rep.Total, rep.Checked, rep.Problems)
			}
		})
	}
}
