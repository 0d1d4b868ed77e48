package client_test

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestQueryLogBatchLast: every op QueryLog finds names as BatchLast the
// last LSN of the log record holding it (a CreatePages, a Commit of
// several deltas, a propagation wave), live and through the client, which
// gets it on the wire (it had no such field until 2026-12-07; the
// server's as-of Read uses it to answer a batch's end). A Commit of one
// delta is its own batch (the control).
func TestQueryLogBatchLast(t *testing.T) {
	ctx := context.Background()
	bus, c, waveEnd := waveBus(t)
	one, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{3})})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{4}), mmsb.Write(1, 0, []byte{5}), mmsb.Write(1, 0, []byte{6})})
	if err != nil {
		t.Fatal(err)
	}
	if batch.LastLSN-batch.FirstLSN != 2 {
		t.Fatalf("Commit of 3 deltas logged LSNs %d..%d", batch.FirstLSN, batch.LastLSN)
	}
	want := map[mmsb.LSN]mmsb.LSN{1: 2, 2: 2, one.FirstLSN: one.FirstLSN}
	for l := batch.FirstLSN; l <= batch.LastLSN; l++ {
		want[l] = batch.LastLSN
	}
	sawWave := false
	for _, src := range []struct {
		name  string
		query func(context.Context, mmsb.LogQuery, func(*mmsb.LoggedOp) bool) error
	}{{"bus", bus.QueryLog}, {"client", c.QueryLog}} {
		got := map[mmsb.LSN]mmsb.LSN{}
		if err := src.query(ctx, mmsb.LogQuery{}, func(lo *mmsb.LoggedOp) bool {
			got[lo.LSN] = lo.BatchLast
			if lo.Op.Kind == mmsb.OpWave || lo.Op.Kind == mmsb.OpDerived {
				sawWave = true
				if lo.BatchLast != waveEnd {
					t.Errorf("%s: %v op at LSN %d: BatchLast %d; want the wave's end %d", src.name, lo.Op.Kind, lo.LSN, lo.BatchLast, waveEnd)
				}
			}
			if lo.BatchLast < lo.LSN {
				t.Errorf("%s: %v op at LSN %d: BatchLast %d before it", src.name, lo.Op.Kind, lo.LSN, lo.BatchLast)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		for l, w := range want {
			if got[l] != w {
				t.Errorf("%s: op at LSN %d: BatchLast %d; want %d", src.name, l, got[l], w)
			}
		}
	}
	if !sawWave {
		t.Fatal("no wave op in the log")
	}
}
