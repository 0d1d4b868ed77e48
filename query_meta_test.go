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

// TestQueryLogFromIndexedPosition: Bus.QueryLog starts from the log's index
// (not the segment's start) and must return exactly what a full scan does.
func TestQueryLogFromIndexedPosition(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 { // ~1.6 MB of log: several index entries
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(i%16), make([]byte, 4000))}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(q mmsb.LogQuery, viaBus bool) []mmsb.LSN {
		var out []mmsb.LSN
		fn := func(lo *mmsb.LoggedOp) bool { out = append(out, lo.LSN); return true }
		if viaBus {
			err = bus.QueryLog(ctx, q, fn)
		} else {
			err = mmsb.QueryLogDir(ctx, bus.FS(), dir, q, fn)
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, from := range []mmsb.LSN{1, 2, 64, 65, 200, 333, 400, 401, 402} {
		q := mmsb.LogQuery{FromLSN: from, ToLSN: from + 50}
		if a, b := list(q, true), list(q, false); !slices.Equal(a, b) || (from <= 401 && (len(a) == 0 || a[0] != from)) {
			t.Fatalf("from %d: bus %v, scan %v", from, a, b)
		}
	}
}
