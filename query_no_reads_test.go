package mmsb

import (
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/logquery"
)

// TestQueryLogWithoutParentReads: a query whose context says
// logquery.WithoutParentReads answers each derived write with its delta
// whole and no parent reads, which it does not decode (it decodes again
// only the Bind and waves it skimmed, whose lists are answered whole), whether
// the query is narrowed by page or only by an LSN range. Without it the
// reads are answered, all of them. The inspector's views show a derived
// write's delta only, and decoded its reads: 22 MB a page view of a
// derived page of 2^16 parents, whose 8 recent writes each read them all.
func TestQueryLogWithoutParentReads(t *testing.T) {
	const parents = 300
	e := openT(t, "", nil)
	ids := mustCreate(t, e, parents+1, 8)
	sum := ids[parents]
	if err := e.Bind(ctx, sum, "f64.sum", nil, ids[:parents]); err != nil {
		t.Fatal(err)
	}
	commitT(t, e, w(ids[0], 0, "q"))
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	redecoded := 0
	queryRedecodeHook = func() { redecoded++ }
	t.Cleanup(func() { queryRedecodeHook = nil })
	for _, tc := range []struct {
		name string
		q    LogQuery
	}{
		{"the sum's operations", LogQuery{Page: sum}},
		{"every operation", LogQuery{}},
		{"an LSN range", LogQuery{FromLSN: 1, ToLSN: e.LastLSN()}},
	} {
		for _, omit := range []bool{true, false} {
			qctx := ctx
			if omit {
				qctx = logquery.WithoutParentReads(ctx)
			}
			redecoded = 0
			var binds, derived, waves int
			err := e.QueryLog(qctx, tc.q, func(lo *LoggedOp) bool {
				switch op := lo.Op; op.Kind {
				case OpWave:
					waves++
				case OpBind:
					binds++
					if !slices.Equal(op.Parents, ids[:parents]) {
						t.Errorf("%s (omit %v): the Bind's parents are %d, want the %d", tc.name, omit, len(op.Parents), parents)
					}
				case OpDerived:
					derived++
					if op.Delta.Page != sum || op.Delta.Form != delta.FormRuns || len(op.Delta.Runs) == 0 || op.Delta.Source != "propagation" {
						t.Errorf("%s (omit %v): the derived write is %+v, want a propagation's write of the sum", tc.name, omit, op.Delta)
					}
					want := parents
					if omit {
						want = 0
					}
					if len(op.Reads) != want {
						t.Errorf("%s (omit %v): the derived write came with %d parent reads, want %d", tc.name, omit, len(op.Reads), want)
					}
				}
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if binds != 1 || derived != 1 {
				t.Fatalf("%s (omit %v): %d Binds and %d derived writes, want 1 of each", tc.name, omit, binds, derived)
			}
			if omit && redecoded != binds+waves {
				t.Errorf("%s: %d operations decoded again, want the Bind and the %d waves only", tc.name, redecoded, waves)
			}
		}
	}
}
