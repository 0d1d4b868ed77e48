package mmsb

import (
	"context"
	"testing"
	"time"
)

// TestSharedGenerationMovesWithFrozenClock: with a clock that stands still
// a writer reopened in the same process made a region of the generation
// the old one had, and a Reader with Reattach took it for the region it
// already held: it reported the old writer's close for ever and never
// read the new one.
func TestSharedGenerationMovesWithFrozenClock(t *testing.T) {
	old := sharedClock
	sharedClock = func() int64 { return 1_000_000 }
	t.Cleanup(func() { sharedClock = old })
	ctx := context.Background()
	shm, dir := scratchShmDir(t), t.TempDir()
	open := func() *Bus {
		bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
		if err != nil {
			t.Fatal(err)
		}
		return bus
	}
	bus := open()
	id, err := bus.CreatePage(ctx, PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm, Reattach: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	first := rd.Stats().Generation
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	bus = open()
	defer bus.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, _, err := rd.ReadPage(id, nil)
		if err == nil && rd.Stats().Reattaches == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reader never followed the reopened writer (generation %d, now %d; reattaches %d): %v",
				first, rd.Stats().Generation, rd.Stats().Reattaches, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if g := rd.Stats().Generation; g == first {
		t.Fatalf("the reopened region has the generation of the closed one, %d", g)
	}
}
