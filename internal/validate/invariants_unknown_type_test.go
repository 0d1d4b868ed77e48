package validate

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestInvariantsReportUnknownType: a page declaring an mmsb.type that is
// no element type ("F64", "float64", "weird") is reported (kind schema,
// naming the value), so that a typo does not silently turn the NaN/Inf
// check off: a "weird" page holding NaN was reported as nothing, and
// `mmsb check` said the bus was fine. The three element types are not
// reported (control), and an f64 page holding NaN still is, as non-finite.
func TestInvariantsReportUnknownType(t *testing.T) {
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint64(nan, math.Float64bits(math.NaN()))
	for _, tc := range []struct {
		typ  string
		kind ProblemKind // "": no problem
		want string
	}{
		{"f64", KindNonFinite, "f64 page 1 holds 1 NaN/Inf value(s)"},
		{"i64", "", ""},
		{"bool", "", ""},
		{"F64", KindSchema, `page 1 declares mmsb.type "F64", not an element type`},
		{"float64", KindSchema, `page 1 declares mmsb.type "float64", not an element type`},
		{"weird", KindSchema, `page 1 declares mmsb.type "weird", not an element type`},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			e := openBus(t, vfs.NewMem(), nil)
			defer e.Close()
			ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(tc.typ)}}}})
			mustNil(t, err)
			_, err = e.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, nan)})
			mustNil(t, err)
			rep, err := CheckInvariants(ctx, Live(e), Options{})
			mustNil(t, err)
			if tc.kind == "" {
				if rep.Total != 0 {
					t.Fatalf("mmsb.type %q: problems %v, want none", tc.typ, rep.Problems)
				}
				return
			}
			if rep.Total != 1 || rep.Problems[0].Kind != tc.kind || rep.Problems[0].Page != ids[0] ||
				rep.Problems[0].Where != InvFiniteF64 || !strings.Contains(rep.Problems[0].What, tc.want) {
				t.Fatalf("mmsb.type %q: problems %v, want one %q of kind %q on page %d saying %q", tc.typ, rep.Problems, InvFiniteF64, tc.kind, ids[0], tc.want)
			}
		})
	}
}

// TestUnknownTypeShownCut: the problem naming an unknown mmsb.type quotes
// at most its first 64 bytes, marked cut, with its length. A type is up
// to 64 KiB of metadata: 60,000 bytes of 0xff were quoted whole, a 240 KB
// problem line for every such page. A 64-byte type is quoted whole
// (control).
func TestUnknownTypeShownCut(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	long, edge := strings.Repeat("\xff", 60000), strings.Repeat("x", 64)
	_, err := e.CreatePages(ctx, []mmsb.PageSpec{
		{Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(long)}}},
		{Size: 8, Meta: []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(edge)}}},
	})
	mustNil(t, err)
	rep, err := CheckInvariants(ctx, Live(e), Options{})
	mustNil(t, err)
	if rep.Total != 2 {
		t.Fatalf("problems %v, want two unknown types", rep.Problems)
	}
	cut := `page 1 declares mmsb.type "` + strings.Repeat(`\xff`, 64) + `"… (60000 bytes), not an element type`
	if what := rep.Problems[0].What; len(what) > 512 || !strings.HasPrefix(what, cut) {
		t.Errorf("the 60,000-byte type: a problem of %d bytes starting %.300q; want it cut: %q", len(what), what, cut)
	}
	whole := `page 2 declares mmsb.type "` + edge + `", not an element type`
	if what := rep.Problems[1].What; !strings.HasPrefix(what, whole) {
		t.Errorf("the 64-byte type: %q; want it whole: %q", what, whole)
	}
}
