package server_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestListPagesAnswerBound: a ListPages answer stops at 16 MiB, however
// many pages were asked for, with a next_after_id to go on from, so that
// a client can list pages whatever their metadata. Before, the answer held
// every page asked for: 10,000 pages of 64 KiB of metadata made 640 MiB,
// and from about 2,200 pages of 60 KiB the Go client's PageIDs failed on
// every try ("message size 141371549 is larger than configured max
// 134217728"). 300 pages of 60 KiB (18 MiB) cannot come in one answer
// now; the control is the same listing of small pages, in one answer.
func TestListPagesAnswerBound(t *testing.T) {
	cases := []struct {
		name     string
		metaSize int
		oneShot  bool // all pages in the first answer
	}{
		{"60 KiB of metadata a page", 60 << 10, false},
		{"control: 1 KiB a page", 1 << 10, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, fixOpts{})
			ctx := context.Background()
			meta := []mmsb.MetaEntry{{Key: "blob", Value: bytes.Repeat([]byte("m"), c.metaSize)}}
			specs := make([]mmsb.PageSpec, 300)
			for i := range specs {
				specs[i] = mmsb.PageSpec{Size: 8, Meta: meta}
			}
			var want []mmsb.PageID
			for part := range slices.Chunk(specs, 100) {
				ids, err := f.c.CreatePages(ctx, part)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, ids...)
			}
			rc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL, connect.WithReadMaxBytes(1<<30))
			resp, err := rc.ListPages(ctx, connect.NewRequest(&mmsbv1.ListPagesRequest{Limit: 10000}))
			if err != nil {
				t.Fatal(err)
			}
			m := resp.Msg
			if size := proto.Size(m); size > 16<<20 {
				t.Fatalf("one answer of %d bytes (%d pages), more than 16 MiB", size, len(m.GetPages()))
			}
			if got := len(m.GetPages()) == len(want) && m.GetNextAfterId() == 0; got != c.oneShot {
				t.Fatalf("first answer: %d pages of %d, next_after_id %d", len(m.GetPages()), len(want), m.GetNextAfterId())
			}
			if !c.oneShot && (len(m.GetPages()) == 0 || m.GetNextAfterId() != m.GetPages()[len(m.GetPages())-1].GetId()) {
				t.Fatalf("a cut answer of %d pages names next_after_id %d", len(m.GetPages()), m.GetNextAfterId())
			}
			ids, err := f.c.PageIDs(ctx)
			if err != nil || !slices.Equal(ids, want) {
				t.Fatalf("PageIDs: %d IDs, %v; want the %d created", len(ids), err, len(want))
			}
		})
	}
}
