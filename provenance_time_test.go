package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestProvenanceTimeOfDerivedWriteFromMemory: a propagation wave's commit
// time is known from memory, like a commit's. Waves were not stamped in the
// commit-time ring, so a NoLogDetails answer about a derived write had Time
// 0 on a live bus (while the same bus, reopened, knew it: recovery stamps
// every record).
func TestProvenanceTimeOfDerivedWriteFromMemory(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(ids[0], 0, "abcdefgh")}); err != nil {
		t.Fatal(err)
	}
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) != 1 {
		t.Fatalf("wave wrote %d pages, want 1", len(r.Writes))
	}
	var want int64
	err = e.QueryLog(ctx, LogQuery{FromLSN: r.FirstLSN, ToLSN: r.FirstLSN}, func(op *LoggedOp) bool {
		want = op.Time
		return false
	})
	if err != nil || want == 0 {
		t.Fatalf("wave's logged time = %d, %v", want, err)
	}
	for _, o := range []ProvenanceOptions{{}, {NoLogDetails: true}} {
		res, err := e.ProvenanceWith(ctx, ids[1], 0, 8, o)
		if err != nil {
			t.Fatal(err)
		}
		got := res.Writes[0]
		if got.LSN != r.FirstLSN || !got.Derived {
			t.Fatalf("%+v: Writes[0] = %+v, want the derived write at LSN %d", o, got, r.FirstLSN)
		}
		if got.Time != want {
			t.Fatalf("%+v: derived write's Time = %d, want the wave's commit time %d", o, got.Time, want)
		}
	}
}
