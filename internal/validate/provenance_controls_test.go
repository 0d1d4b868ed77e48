package validate

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// sparseBus builds pages of 64 bytes, each written whole by a run delta
// and then by a FormMaskedSparse delta that writes only bytes 0 and 32:
// the last writer of a range is the masked delta only when the range
// holds byte 0 or 32.
func sparseBus(t *testing.T) *mmsb.Bus {
	t.Helper()
	e := openBus(t, vfs.NewMem(), nil)
	specs := make([]mmsb.PageSpec, 24)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	whole := make([]byte, 64)
	for i, id := range ids {
		whole[0] = byte(i)
		if _, err := e.Commit(ctx, []delta.Delta{{Page: id, Runs: []delta.Run{{Data: whole}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		d := delta.Delta{Page: id, Form: delta.FormMaskedSparse, MaskLen: 64,
			Mask: []byte{0x01, 0, 0, 0, 0x01, 0, 0, 0}, Payload: []byte{0xAA, 0xBB}}
		if _, err := e.Commit(ctx, []delta.Delta{d}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestProvenanceSparseDeltas: over masked sparse deltas the bus's own
// answers agree with the log (the validator decodes the mask exactly, not
// as the span it covers), and answers that attribute every range to the
// page's masked delta, including ranges it did not write, are caught for
// exactly those ranges.
func TestProvenanceSparseDeltas(t *testing.T) {
	e := sparseBus(t)
	defer e.Close()
	o := Options{Samples: -1, Seed: 11}
	rep, err := Provenance(ctx, Live(e), o)
	requireOK(t, rep, err)

	toMasked := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		r, err := e.Provenance(ctx, id, off, n, 0)
		if err != nil {
			return r, err
		}
		info, err := e.Page(id)
		if err != nil {
			return nil, err
		}
		r.Writes[0].LSN = info.LastLSN // the masked delta: the page's last write
		return r, nil
	}
	rep, err = checkProvenance(ctx, e, o, toMasked)
	requireProblem(t, rep, err, "the log's last writer of the range is LSN")
	for _, p := range rep.Problems {
		if p.Kind != KindProvenance {
			t.Fatalf("kind %q: %v", p.Kind, p)
		}
		var lo, hi int
		var page mmsb.PageID
		if _, err := fmt.Sscanf(p.Where, "page %d [%d, %d)", &page, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if lo <= 0 && 0 < hi || lo <= 32 && 32 < hi {
			t.Errorf("range %s holds a byte the masked delta wrote, yet was reported: %v", p.Where, p)
		}
	}
	if rep.Total == 0 || rep.Total >= rep.Checked {
		t.Fatalf("%d problems in %d samples: want some ranges the mask missed and some it wrote", rep.Total, rep.Checked)
	}
}

// TestProvenanceCatchesWrongWrites: an answer naming an LSN the log does
// not hold, and one naming the right LSN but another page, are caught.
func TestProvenanceCatchesWrongWrites(t *testing.T) {
	e := sparseBus(t)
	defer e.Close()
	o := Options{Samples: -1, Seed: 11}
	beyond := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		r, err := e.Provenance(ctx, id, off, n, 0)
		if err == nil {
			r.Writes[0].LSN = e.LastLSN() + 100
		}
		return r, err
	}
	rep, err := checkProvenance(ctx, e, o, beyond)
	requireProblem(t, rep, err, "which the log does not hold")
	otherPage := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		r, err := e.Provenance(ctx, id, off, n, 0)
		if err == nil {
			r.Writes[0].Page = id + 1000
		}
		return r, err
	}
	rep, err = checkProvenance(ctx, e, o, otherPage)
	requireProblem(t, rep, err, "the log holds a")
}
