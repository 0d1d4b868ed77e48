package mmsb_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mmsb-go/mmsb"
)

// Replay rebuilds a directory's state as it was at an earlier LSN, into a
// detached in-memory bus, without taking the directory's lock (a writer may
// keep committing meanwhile).
func ExampleReplay() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "mmsb-replay-example")
	defer os.RemoveAll(dir)

	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	first, _ := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("old"))})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("new"))})
	bus.Close()

	past, err := mmsb.Replay(ctx, dir, mmsb.ReplayTarget{ToLSN: first.LastLSN}, nil)
	if err != nil {
		panic(err)
	}
	defer past.Close()
	b, epoch, _ := past.ReadPage(id, nil)
	fmt.Printf("as of LSN %d: %q at epoch %d\n", past.LastLSN(), b[:3], epoch)
	// Output:
	// as of LSN 2: "old" at epoch 1
}
