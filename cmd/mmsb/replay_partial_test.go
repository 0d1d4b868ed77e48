//go:build linux

package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestReplayFailureLeavesNoPartialOut: a replay that fails while writing
// DIR2 (here its file system fills up) leaves nothing at --out, so that
// the same command can be run again once there is room. DIR2 was written
// in place, and the half-written directory it left was then refused as
// "not empty" by every retry. The control: with room, the replay writes
// DIR2 and nothing else beside it.
//
// It needs a tmpfs of its own, 1 MiB (mount, as root); CI runs it so.
func TestReplayFailureLeavesNoPartialOut(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700"); err != nil {
		testutil.Missing(t, "needs a private tmpfs (root): mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	src := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// 2 MiB of pages that do not compress: a checkpoint larger than the tmpfs.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 512 << 10})
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 512<<10)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(mnt, "copy")
	runCLI(t, "replay", src, "--out", out).mustCode(t, exitFailure)
	if names, err := os.ReadDir(mnt); err != nil || len(names) != 0 {
		t.Fatalf("after the failed replay the tmpfs holds %v (%v), want nothing", names, err)
	}

	// The control: a small bus replays onto the same file system.
	small := newTestBus(t)
	runCLI(t, "replay", small.dir, "--out", out).mustCode(t, exitOK)
	names, err := os.ReadDir(mnt)
	if err != nil || len(names) != 1 || names[0].Name() != "copy" {
		t.Fatalf("after the replay with room the tmpfs holds %v (%v), want copy alone", names, err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints")); err != nil {
		t.Fatal(err)
	}
}
