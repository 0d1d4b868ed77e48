package mmsb

import (
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestQueryLogDecodesOnce: a query that only an LSN or time range can
// narrow decodes each Bind, derived write and wave once, whole; skimmed
// first, each was decoded twice (every list read two times over). A
// query by page still skims the operations it passes by and decodes
// again, whole, those it keeps. Both answer the lists in full.
func TestQueryLogDecodesOnce(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 3, 8)
	sum := ids[2]
	if err := e.Bind(ctx, sum, "f64.sum", nil, ids[:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "q")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	redecoded := 0
	queryRedecodeHook = func() { redecoded++ }
	t.Cleanup(func() { queryRedecodeHook = nil })
	for _, tc := range []struct {
		name string
		q    LogQuery
		skim bool
	}{
		{"every operation", LogQuery{}, false},
		{"an LSN range", LogQuery{FromLSN: 2, ToLSN: 1 << 40}, false},
		{"a time range", LogQuery{FromTime: 1, ToTime: 1 << 62}, false},
		{"the sum's operations", LogQuery{Page: sum}, true},
	} {
		redecoded = 0
		var binds, derived int
		err := e.QueryLog(ctx, tc.q, func(lo *LoggedOp) bool {
			switch op := lo.Op; op.Kind {
			case OpBind:
				binds++
				if !slices.Equal(op.Parents, ids[:2]) {
					t.Errorf("%s: the Bind's parents are %v, want %v", tc.name, op.Parents, ids[:2])
				}
			case OpDerived:
				derived++
				if len(op.Reads) != 2 {
					t.Errorf("%s: the derived write read %v, want the 2 parents", tc.name, op.Reads)
				}
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if binds != 1 || derived != 1 {
			t.Fatalf("%s: %d Binds and %d derived writes, want 1 of each", tc.name, binds, derived)
		}
		if tc.skim && redecoded < 2 {
			t.Errorf("%s: decoded again %d skimmed operations, want the Bind and the derived write", tc.name, redecoded)
		}
		if !tc.skim && redecoded != 0 {
			t.Errorf("%s: %d operations skimmed and decoded again, want each decoded once", tc.name, redecoded)
		}
	}
}

// TestQueryLogOpHoldsItsKindOnly: each logged operation holds the fields
// of its kind only, whether the query decoded it whole or skimmed it: a
// plain write after a Bind, a derived write and a page creation came with
// that Bind's function and parents, that derived write's parent reads and
// that creation's page (the record decoder leaves other kinds' fields as
// they were); a write's Page is its delta's page, as a client's QueryLog
// answers it.
func TestQueryLogOpHoldsItsKindOnly(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 3, 8)
	sum := ids[2]
	if err := e.Bind(ctx, sum, "f64.sum", nil, ids[:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "q")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[1], 0, "r")}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []LogQuery{{}, {Kinds: []OpKind{OpDelta, OpDerived, OpBind}}} {
		var writes int
		err := e.QueryLog(ctx, q, func(lo *LoggedOp) bool {
			op := lo.Op
			if op.Kind != OpDelta {
				return true
			}
			writes++
			if op.Page != op.Delta.Page || op.Func != "" || op.Parents != nil || len(op.Reads) != 0 || op.Size != 0 || op.Dirty != nil {
				t.Errorf("query %+v: the write at LSN %d holds other kinds' fields: %+v", q, lo.LSN, *op)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if writes != 2 {
			t.Fatalf("query %+v: %d plain writes, want 2", q, writes)
		}
	}
}
