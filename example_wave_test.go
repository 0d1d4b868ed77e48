package mmsb_test

import (
	"context"
	"fmt"

	"github.com/mmsb-go/mmsb"
)

// A propagation wave's record ends with an OpWave operation naming what
// still waits for propagation after it (pages written while it computed,
// derived pages held back by a failed function): recovery and followers
// apply it, so Pending after a restart is what it was before.
func ExampleOpKind_wave() {
	ctx := context.Background()
	double := func(in [][]byte, _ []byte, out []byte) error { out[0] = 2 * in[0][0]; return nil }
	bus, _ := mmsb.Open("", &mmsb.Options{Functions: map[string]mmsb.RecomputeFunc{"double": double}})
	defer bus.Close()
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 1}, {Size: 1}})
	_ = bus.Bind(ctx, ids[1], "double", nil, ids[:1])
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{21})})
	r, _ := bus.Propagate(ctx)
	fmt.Printf("wave wrote page %d at LSN %d, record ends at LSN %d\n", r.Writes[0].Page, r.Writes[0].LSN, r.LastLSN)
	_ = bus.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{mmsb.OpWave}}, func(op *mmsb.LoggedOp) bool {
		fmt.Printf("LSN %d: %v, %d pages left dirty, %d held back\n", op.LSN, op.Op.Kind, len(op.Op.Dirty), len(op.Op.Held))
		return true
	})
	fmt.Println("pending:", bus.Pending())
	// Output:
	// wave wrote page 2 at LSN 5, record ends at LSN 6
	// LSN 6: wave, 0 pages left dirty, 0 held back
	// pending: 0
}
