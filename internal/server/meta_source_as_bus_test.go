package server_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestMetaAndSourceAsTheBus: the server accepts what the bus's own API
// accepts, and stores it as the bus does (docs/server.md): SetMetadata and
// CreatePages with a key given twice keep its first place and its last
// value (Bus.SetMetadata), an empty key is a key as any other, and a
// Commit's source is any string, NUL bytes included, logged as given.
func TestMetaAndSourceAsTheBus(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	dup := []mmsb.MetaEntry{{Key: "a", Value: []byte("1")}, {Key: "", Value: []byte("e")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}}
	want := []mmsb.MetaEntry{{Key: "a", Value: []byte("3")}, {Key: "", Value: []byte("e")}, {Key: "b", Value: []byte("2")}}
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: dup}, {Size: 8}})
	if err != nil {
		t.Fatalf("CreatePages with a key given twice and an empty key: %v; the bus accepts them", err)
	}
	if err := f.c.SetMetadata(ctx, ids[1], dup); err != nil {
		t.Fatalf("SetMetadata with a key given twice and an empty key: %v; the bus accepts them", err)
	}
	for _, id := range ids {
		info, err := f.bus.Page(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(info.Meta, want) {
			t.Errorf("page %d metadata %q; want %q (first place, last value)", id, info.Meta, want)
		}
	}
	src := "a\x00b"
	if _, err := f.c.Commit(ctx, []mmsb.Delta{{Page: ids[0], Runs: []mmsb.Run{{Offset: 0, Data: []byte("x")}}, Source: src}}); err != nil {
		t.Fatalf("Commit with a source holding NUL: %v; the bus accepts any source", err)
	}
	var got []string
	if err := f.bus.QueryLog(ctx, mmsb.LogQuery{Source: src}, func(op *mmsb.LoggedOp) bool {
		got = append(got, op.Op.Delta.Source)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != src {
		t.Errorf("the log's deltas of source %q: %q; want the one committed", src, got)
	}
}
