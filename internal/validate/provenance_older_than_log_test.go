package validate

import (
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestProvenanceCatchesWriterTheLogDoesNotHold: a page whose whole history
// is older than the log (created, never written since, the log trimmed
// past its creation) may only be answered with a write the log cannot
// contradict. An answer naming an LSN the log holds (another page's
// write) is a provenance finding. With that finding removed every test of
// the package passed (tried); the honest answer is skipped, not failed.
func TestProvenanceCatchesWriterTheLogDoesNotHold(t *testing.T) {
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: vfs.NewMem(), Clock: testClock(), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	mustNil(t, err)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}, {Size: 64}})
	mustNil(t, err)
	old := ids[1] // created at LSN 2, never written again
	for round := range 3 {
		for i := range 12 {
			data := make([]byte, 512)
			data[0] = byte(round*12 + i)
			_, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: data}}}})
			mustNil(t, err)
		}
		if round < 2 {
			_, err := e.Checkpoint(ctx)
			mustNil(t, err)
		}
	}
	first := e.Stats().Log.OldestLSN
	if first <= 2 {
		t.Fatalf("log starts at LSN %d, want it trimmed past the creation of page %d", first, old)
	}
	ask := func(lie bool) func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		return func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
			res, err := e.Provenance(ctx, id, off, n, 0)
			if lie && id == old && err == nil {
				res.Writes = []mmsb.ProvenanceWrite{{LSN: first + 1, Page: old}}
			}
			return res, err
		}
	}
	rep, err := ProvenanceWith(ctx, e, Options{Samples: -1}, ask(false))
	mustNil(t, err)
	// Skipped: page old, and page 0 too when its range fell in bytes
	// never written since the log starts.
	if rep.Total != 0 || rep.Skipped < 1 {
		t.Fatalf("honest answers: %d problem(s) %v, %d skipped; want none, page %d skipped", rep.Total, rep.Problems, rep.Skipped, old)
	}
	rep, err = ProvenanceWith(ctx, e, Options{Samples: -1}, ask(true))
	requireProblem(t, rep, err, fmt.Sprintf("provenance names LSN %d, but the log holds no write of the range", first+1))
	if rep.Total != 1 || rep.Problems[0].Page != old || rep.Problems[0].Kind != KindProvenance {
		t.Fatalf("want one provenance finding on page %d: %v", old, rep.Problems)
	}
}
