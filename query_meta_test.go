package mmsb_test

import (
	"context"
	"slices"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestQueryLogAfterMetadata: a delta read after a metadata change in an
// earlier record must not be decoded with the stale metadata bytes the
// record decoder leaves in its reused op (this failed with "malformed
// metadata encoding" before the fix).
func TestQueryLogAfterMetadata(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.SetMetadata(ctx, ids[0], []mmsb.MetaEntry{{Key: "name", Value: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 3, []byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	var kinds []mmsb.OpKind
	var metas []int
	if err := bus.QueryLog(ctx, mmsb.LogQuery{}, func(lo *mmsb.LoggedOp) bool {
		kinds = append(kinds, lo.Op.Kind)
		metas = append(metas, len(lo.Op.Meta))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := []mmsb.OpKind{mmsb.OpCreatePage, mmsb.OpCreatePage, mmsb.OpSetMeta, mmsb.OpDelta}
	if !slices.Equal(kinds, want) || !slices.Equal(metas, []int{0, 0, 1, 0}) {
		t.Fatalf("kinds %v metadata counts %v", kinds, metas)
	}
}
