package inspector_test

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestProvenanceBytesCopyOnlyTheWindow: the bytes a provenance step
// shows are what its write put in the step's range, and looking them up
// costs the shown bytes, not the page: the provenance of a sum of 32
// pages of 2 MiB, each written last by a delta that also writes its last
// bytes, allocates far less than a page per step. Before, each step's
// delta was applied to a buffer as large as its extent and the shown
// bytes kept it alive until the answer was sent: 62 MiB for this request,
// 512 MiB with pages of 16 MiB. The bytes are checked against delta.Apply on a whole
// page, for overlapping runs and for the masked forms.
func TestProvenanceBytesCopyOnlyTheWindow(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	// A sum of 32 pages of 2 MiB, each written last by a delta with a run
	// at each end: the steps of the parents show the first 256 bytes of
	// each, and each applied its delta to a 2 MiB buffer.
	const size = 2 << 20
	specs := make([]mmsb.PageSpec, 33)
	for i := range specs {
		specs[i].Size = size
	}
	specs[32].Size = 8
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	parents, sum := ids[:32], ids[32]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, parents); err != nil {
		t.Fatal(err)
	}
	for i, p := range parents {
		d := mmsb.Delta{Page: p, Runs: []delta.Run{{Offset: 0, Data: f64(float64(i + 1))}, {Offset: size - 8, Data: f64(-1)}}}
		if _, err := bus.Commit(ctx, []mmsb.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	req := &inspectorv1.ProvenanceRequest{Page: uint64(sum), Offset: 0, Length: 8}
	if _, err := c.Provenance(ctx, connect.NewRequest(req)); err != nil { // warm up
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := c.Provenance(ctx, connect.NewRequest(req))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
		t.Errorf("provenance of a sum of 32 pages of 2 MiB allocated %d bytes", got)
	}
	shown := 0
	for _, s := range res.Msg.Steps[1:] {
		if len(s.Bytes) == 0 {
			continue
		}
		shown++
		i := slices.Index(parents, mmsb.PageID(s.Page))
		if want := append(f64(float64(i+1)), make([]byte, 248)...); s.Lo != 0 || !bytes.Equal(s.Bytes, want) {
			t.Errorf("step of page %d [%d, %d) shows %v, want its first 256 bytes, %v", s.Page, s.Lo, s.Hi, s.Bytes, want)
		}
	}
	if shown != 31 {
		t.Errorf("%d parent steps show bytes, want 31 (32 steps do, the sum's own first)", shown)
	}

	small, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	overlapping := mmsb.Delta{Page: small, Runs: []delta.Run{{Offset: 4, Data: []byte("aaaaaaaa")}, {Offset: 8, Data: []byte("bb")}, {Offset: 30, Data: []byte("c")}}}
	dense, err := delta.ToMaskedDense(&overlapping, 64)
	if err != nil {
		t.Fatal(err)
	}
	sparse, err := delta.ToMaskedSparse(&overlapping, 40)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    mmsb.Delta
	}{
		{"overlapping runs", overlapping},
		{"masked dense", dense},
		{"masked sparse", sparse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.Page = small
			if _, err := bus.Commit(ctx, []mmsb.Delta{tc.d}); err != nil {
				t.Fatal(err)
			}
			page := make([]byte, 64)
			if err := delta.Apply(&tc.d, page); err != nil {
				t.Fatal(err)
			}
			res, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(small), Offset: 2, Length: 30}))
			if err != nil {
				t.Fatal(err)
			}
			s := res.Msg.Steps[0]
			if s.Lsn != uint64(bus.LastLSN()) {
				t.Fatalf("first step is LSN %d, want the last write's, %d", s.Lsn, bus.LastLSN())
			}
			if want := page[s.Lo:s.Hi]; !bytes.Equal(s.Bytes, want) {
				t.Errorf("step [%d, %d) shows %q, want %q", s.Lo, s.Hi, s.Bytes, want)
			}
		})
	}
}
