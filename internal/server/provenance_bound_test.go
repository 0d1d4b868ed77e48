package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
)

// TestProvenanceAnswerBound: a Provenance answer stops at 16 MiB with
// truncated set, keeping a prefix of the writes (each Parent names an
// earlier one). A derived page of 24 parents, each last written by a delta
// with 1 MiB of intent, has 25 writes and 24 MiB of provenance: until
// 2026-12-06 all of it went in one answer (and 4,096 writes of such
// deltas, mmsb.MaxProvenanceWrites, made answers the Go client could never
// read). The control is the same chain with 1 KiB intents, whole.
func TestProvenanceAnswerBound(t *testing.T) {
	const parents = 24
	for _, tc := range []struct {
		name      string
		intent    int
		truncated bool
	}{
		{"1 MiB intents", 1 << 20, true},
		{"control: 1 KiB intents", 1 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixOpts{})
			ctx := context.Background()
			specs := make([]mmsb.PageSpec, parents+1)
			for i := range specs {
				specs[i] = mmsb.PageSpec{Size: 8}
			}
			ids, err := f.c.CreatePages(ctx, specs)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids[:parents] {
				d := mmsb.Write(id, 0, []byte{byte(i + 1)}) // not zero: the copy changes the derived page
				d.Intent = bytes.Repeat([]byte{'i'}, tc.intent)
				if _, err := f.c.Commit(ctx, []mmsb.Delta{d}); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.c.Bind(ctx, ids[parents], "copy", nil, ids[:parents]); err != nil {
				t.Fatal(err)
			}
			if _, err := f.bus.Propagate(ctx); err != nil { // the derived page's write
				t.Fatal(err)
			}
			full, err := f.bus.Provenance(ctx, ids[parents], 0, 8, 0)
			if err != nil || full.Truncated || len(full.Writes) != parents+1 {
				t.Fatalf("the bus's own answer: %d writes, truncated %v, %v; want %d whole", len(full.Writes), full.Truncated, err, parents+1)
			}
			rc := mmsbv1connect.NewBusServiceClient(f.http.Client(), f.http.URL, connect.WithReadMaxBytes(1<<30))
			resp, err := rc.Provenance(ctx, connect.NewRequest(&mmsbv1.ProvenanceRequest{Page: uint64(ids[parents]), Length: 8}))
			if err != nil {
				t.Fatal(err)
			}
			m := resp.Msg
			if size := proto.Size(m); size > 16<<20 {
				t.Fatalf("one answer of %d bytes (%d writes), more than 16 MiB", size, len(m.GetWrites()))
			}
			if m.GetTruncated() != tc.truncated || (len(m.GetWrites()) == parents+1) == tc.truncated {
				t.Fatalf("%d writes of %d, truncated %v; want truncated %v", len(m.GetWrites()), parents+1, m.GetTruncated(), tc.truncated)
			}
			for i, w := range m.GetWrites() {
				if w.GetLsn() != uint64(full.Writes[i].LSN) || int(w.GetParent()) >= i {
					t.Fatalf("write %d: LSN %d parent %d; want the bus's write %d (LSN %d), a parent before it", i, w.GetLsn(), w.GetParent(), i, full.Writes[i].LSN)
				}
			}
			// The Go client reads it as it is.
			got, err := f.c.Provenance(ctx, ids[parents], 0, 8, 0)
			if err != nil || got.Truncated != tc.truncated || len(got.Writes) != len(m.GetWrites()) {
				t.Fatalf("client: %+v, %v", got, err)
			}
		})
	}
}

// TestProvenanceTakesALogQuerySlot: Provenance may scan the log, as
// QueryLog does, and takes one of the server's log query slots
// (--max-log-queries): with the only one held it is refused with
// resource_exhausted naming the bound, and answers once it is released
// (the control). Until 2026-12-06 it took none.
func TestProvenanceTakesALogQuerySlot(t *testing.T) {
	f := newFixture(t, fixOpts{maxLogQ: 1})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	release, err := f.srv.LogQuerySlot()
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Provenance(ctx, id, 0, 1, 0)
	if connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-log-queries") {
		t.Fatalf("Provenance with every log query slot taken: %v (code %v); want resource_exhausted naming --max-log-queries", err, connect.CodeOf(err))
	}
	release()
	if r, err := f.c.Provenance(ctx, id, 0, 1, 0); err != nil || len(r.Writes) == 0 {
		t.Fatalf("Provenance with a free slot: %+v, %v", r, err)
	}
}
