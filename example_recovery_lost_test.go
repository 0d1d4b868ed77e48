package mmsb_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mmsb-go/mmsb"
)

// With Options.Repair, Open accepts damage it would refuse, and
// Recovery().Log says which commits it lost: what to tell the users whose
// commits had those LSNs. Here the log is removed after a checkpoint, so
// the commits after it are gone, and how many there were is not known.
func ExampleLogRecovery() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "mmsb-example")
	defer os.RemoveAll(dir)

	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	id, _ := bus.CreatePage(ctx, mmsb.PageSpec{Size: 16})
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("kept"))})
	if _, err := bus.Checkpoint(ctx); err != nil {
		panic(err)
	}
	_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("lost"))})
	bus.Close()

	_ = os.RemoveAll(filepath.Join(dir, "wal")) // the log is gone
	if _, err := mmsb.Open(dir, nil); err != nil {
		fmt.Println("refused without Repair")
	}
	bus, err = mmsb.Open(dir, &mmsb.Options{Repair: true})
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	r := bus.Recovery().Log
	switch r.LostLastLSN {
	case 0:
		fmt.Println("no commit lost")
	case mmsb.LostLSNUnknown:
		fmt.Printf("commits from LSN %d on may be lost\n", r.LostFirstLSN)
	default:
		fmt.Printf("commits from LSN %d to %d are lost\n", r.LostFirstLSN, r.LostLastLSN)
	}
	buf, _, _ := bus.ReadPage(id, nil)
	fmt.Printf("page: %q\n", buf[:4])
	// Output:
	// refused without Repair
	// commits from LSN 3 on may be lost
	// page: "kept"
}
