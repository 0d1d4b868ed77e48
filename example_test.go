package mmsb_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/tick"
)

func f64(v float64) []byte {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))
}

// Example shows pages, an atomic batch of deltas, a conflict, a derived page
// recomputed by a tick, and a replay check.
func Example() {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil) // in-memory; pass a directory for a durable bus
	if err != nil {
		panic(err)
	}
	defer bus.Close()

	f64Page := []mmsb.MetaEntry{{Key: "mmsb.type", Value: []byte("f64")}}
	ids, _ := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8, Meta: f64Page}, {Size: 8, Meta: f64Page}, {Size: 8, Meta: f64Page}})
	a, b, sum := ids[0], ids[1], ids[2]

	info, _ := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(a, 0, f64(1.5)), mmsb.Write(b, 0, f64(2.25))})
	fmt.Println("batch LSNs:", info.FirstLSN, "to", info.LastLSN)

	stale := mmsb.Write(a, 0, f64(9))
	stale.CheckEpoch, stale.ExpectEpoch = true, 0 // a is at epoch 1 now
	_, err = bus.Commit(ctx, []mmsb.Delta{stale})
	fmt.Println("conflict:", errors.Is(err, mmsb.ErrConflict))

	_ = bus.Bind(ctx, sum, "f64.sum", nil, []mmsb.PageID{a, b})
	orch, _ := tick.New(bus, nil)
	defer orch.Close()
	d := mmsb.Write(a, 0, f64(10))
	_ = orch.Submit(ctx, &d)
	_, _ = orch.Tick(ctx)
	got, _, _ := bus.ReadPage(sum, nil)
	fmt.Println("sum:", math.Float64frombits(binary.LittleEndian.Uint64(got)))

	rep, _ := bus.VerifyReplay(ctx, false)
	fmt.Println("replay equals live state:", rep.Equal())
	// Output:
	// batch LSNs: 4 to 5
	// conflict: true
	// sum: 12.25
	// replay equals live state: true
}
