package validate

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestPurityLoggedDerivationOfOtherParentCount feeds every validator a log
// a user can hand to `mmsb check`: a bus whose page 3 is bound to f64.sum of
// two parents, with a derived delta to page 3 appended by hand that read
// one parent, or three (a damaged or hand-made log, or one whose binding
// changed between the derivation and the check). The bus opened from it
// keeps that derivation as page 3's latest, so purity must not take it as
// read under the binding: no validator may panic, and purity checks the
// binding without comparing the page (its derivation did not read the
// binding's parents). Without purity's count comparison, fewer reads
// indexed past their end and panicked.
func TestPurityLoggedDerivationOfOtherParentCount(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d reads", n), func(t *testing.T) {
			fs := vfs.NewMem()
			e := openBus(t, fs, nil)
			ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: f64Meta()}, {Size: 8, Meta: f64Meta()}, {Size: 8, Meta: f64Meta()}})
			mustNil(t, err)
			mustNil(t, e.Bind(ctx, ids[2], "f64.sum", nil, ids[:2]))
			_, err = e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}}}}})
			mustNil(t, err)
			_, err = e.Propagate(ctx)
			mustNil(t, err)
			var reads []record.ParentRead
			for i := 0; i < n; i++ {
				p := ids[i%2]
				info, err := e.Page(p)
				mustNil(t, err)
				reads = append(reads, record.ParentRead{Page: p, LSN: info.LastLSN})
			}
			k := e.LastLSN()
			mustNil(t, e.Close())
			// The derived delta writes 2.0, which is not the sum of the
			// parents (1.0): a page compared with its function would be
			// reported inconsistent.
			d := delta.Delta{Page: ids[2], Runs: []delta.Run{{Data: []byte{0, 0, 0, 0, 0, 0, 0, 0x40}}}}
			seg, _ := scratchSegment(t, fs, k+1, 1, record.AppendDerived(record.AppendHeader(nil, 1_800_000_000_000_000_000), reads, &d))
			segs := segmentNames(t, fs, fs.Join(busDir, "wal"))
			last := fs.Join(busDir, "wal", segs[len(segs)-1])
			b := testutil.ReadFile(t, fs, last)
			writeFile(t, fs, last, append(b, seg[tlog.SegmentHeaderSize:]...))

			// The bus opened from the log keeps that derivation.
			e = openBus(t, fs, nil)
			got, ok := e.LastDerivation(ids[2])
			mustNil(t, e.Close())
			if !ok || len(got.Reads) != n {
				t.Fatalf("page %d's latest derivation as reopened: %+v (known %v), want %d reads", ids[2], got, ok, n)
			}

			rep, err := Purity(ctx, Offline(fs, busDir, nil), Options{})
			mustNil(t, err)
			if c, _ := rep.Figure("consistency_checked"); rep.Checked != 1 || c != 0 || rep.Total != 0 {
				t.Fatalf("purity checked %d binding(s), compared %v page(s), problems %v; want 1, 0, none", rep.Checked, c, rep.Problems)
			}
			// Every validator on the same log: a panic fails the test.
			if _, err := RunAll(ctx, Offline(fs, busDir, nil), Options{}); err != nil {
				t.Fatalf("validators on the log: %v", err)
			}
		})
	}
}
