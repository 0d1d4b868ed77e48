package server_test

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInvalidUTF8AnswersEscaped: a source, a function name or a metadata
// key that is not valid UTF-8 (the Go API and the C binding take any
// bytes; a network request cannot carry one) is answered with each bad
// byte written as \xNN. The codec refuses to encode a message holding
// such a string: one delta with the source "src\xfe" failed every
// QueryLog and Provenance answer that met it with internal: "contains
// invalid UTF-8" (found by the inspector review of 2026-12-06). The
// valid page is the control.
func TestInvalidUTF8AnswersEscaped(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	bad, good := ids[0], ids[1]
	if err := f.bus.SetMetadata(ctx, bad, []mmsb.MetaEntry{{Key: "k\xff", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	d := mmsb.Write(bad, 0, []byte{1})
	d.Source = "src\xfe"
	ok := mmsb.Write(good, 0, []byte{2})
	ok.Source = "sensor"
	if _, err := f.bus.Commit(ctx, []mmsb.Delta{d, ok}); err != nil {
		t.Fatal(err)
	}
	sources := map[mmsb.PageID]string{}
	keys := map[mmsb.PageID]string{}
	err = f.c.QueryLog(ctx, mmsb.LogQuery{}, func(op *mmsb.LoggedOp) bool {
		switch op.Op.Kind {
		case mmsb.OpDelta:
			sources[op.Op.Delta.Page] = op.Op.Delta.Source
		case mmsb.OpSetMeta:
			keys[op.Op.Page] = op.Op.Meta[0].Key
		}
		return true
	})
	if err != nil {
		t.Fatalf("QueryLog over a delta with an invalid UTF-8 source: %v", err)
	}
	if sources[bad] != `src\xfe` || sources[good] != "sensor" || keys[bad] != `k\xff` {
		t.Fatalf("QueryLog answered sources %v and key %q; want src\\xfe, sensor and k\\xff", sources, keys[bad])
	}
	for _, id := range ids {
		p, err := f.c.Provenance(ctx, id, 0, 1, 0)
		if err != nil {
			t.Fatalf("Provenance of page %d: %v", id, err)
		}
		if want := map[mmsb.PageID]string{bad: `src\xfe`, good: "sensor"}[id]; len(p.Writes) == 0 || p.Writes[0].Source != want {
			t.Fatalf("Provenance of page %d: %+v; want the write with source %q", id, p.Writes, want)
		}
	}
	pages, _, err := f.c.ListPages(ctx, 0, 10)
	if err != nil {
		t.Fatalf("ListPages over a metadata key that is not UTF-8: %v", err)
	}
	if len(pages) != 2 || len(pages[0].Meta) != 1 || pages[0].Meta[0].Key != `k\xff` {
		t.Fatalf("ListPages answered %+v; want page %d's key as k\\xff", pages, bad)
	}
}
