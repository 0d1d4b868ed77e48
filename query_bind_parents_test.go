package mmsb

import (
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/internal/logquery"
)

// TestQueryLogBindParentsCapped: a query whose context says
// logquery.WithBindParents answers a Bind of 300 parents with its first
// Max of them (none at Max 0), and sets Total to 300 before calling back
// with it, whether the query is narrowed by page or reads every
// operation, with or without WithoutParentReads. A Bind passed on to the
// callback held every parent, which the inspector's log view decoded to
// show the first 256 bytes of them.
func TestQueryLogBindParentsCapped(t *testing.T) {
	const parents = 300
	e := openT(t, "", nil)
	ids := mustCreate(t, e, parents+1, 8)
	sum := ids[parents]
	if err := e.Bind(ctx, sum, "f64.sum", nil, ids[:parents]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []LogQuery{{Page: sum}, {}} {
		for _, noReads := range []bool{false, true} {
			for _, most := range []int{0, 1, 7, parents, parents + 5} {
				bp := &logquery.BindParents{Max: most}
				qctx := logquery.WithBindParents(ctx, bp)
				if noReads {
					qctx = logquery.WithoutParentReads(qctx)
				}
				binds := 0
				err := e.QueryLog(qctx, q, func(lo *LoggedOp) bool {
					if lo.Op.Kind != OpBind {
						return true
					}
					binds++
					want := ids[:min(most, parents)]
					if !slices.Equal(lo.Op.Parents, want) || bp.Total != parents {
						t.Errorf("query %+v (no reads %v), Max %d: the Bind came with %d parents and Total %d, want the first %d and Total %d", q, noReads, most, len(lo.Op.Parents), bp.Total, len(want), parents)
					}
					return true
				})
				if err != nil {
					t.Fatal(err)
				}
				if binds != 1 {
					t.Fatalf("query %+v: %d Binds, want 1", q, binds)
				}
			}
		}
	}
}
