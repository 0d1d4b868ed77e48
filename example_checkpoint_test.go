package mmsb_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mmsb-go/mmsb"
)

// Checkpoint writes the whole state at one LSN; the next Open loads the
// newest checkpoint and replays only the log after it (Recovery says
// what it did). Close flushes and releases the directory, after which the
// bus's methods return ErrClosed.
func ExampleBus_Checkpoint() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mmsb-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		panic(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("before"))}); err != nil {
		panic(err)
	}
	ci, err := bus.Checkpoint(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("checkpoint at LSN %d, %d page\n", ci.LSN, ci.Pages)
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("after!"))}); err != nil {
		panic(err)
	}
	if err := bus.Close(); err != nil {
		panic(err)
	}
	_, _, err = bus.ReadPage(id, nil)
	fmt.Println("read after Close:", err)

	bus, err = mmsb.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	rec := bus.Recovery()
	fmt.Printf("recovered from checkpoint LSN %d, then %d logged operation(s)\n", rec.CheckpointLSN, rec.ReplayedOps)
	b, epoch, _ := bus.ReadPage(id, nil)
	fmt.Printf("page %d at epoch %d: %q\n", id, epoch, b[:6])
	// Output:
	// checkpoint at LSN 2, 1 page
	// read after Close: mmsb: bus closed
	// recovered from checkpoint LSN 2, then 1 logged operation(s)
	// page 1 at epoch 2: "after!"
}
