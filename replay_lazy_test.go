package mmsb

import (
	"errors"
	"testing"
)

// Replays of a lazy bus are lazy too. Before, every detached replay bus
// pre-faulted its page memory, so on a machine smaller than a lazy bus's
// pages VerifyReplay, Replay and ReadPageAt failed with ErrNoSpace ("create
// ... exceed the limit of 67108864 bytes of page memory") although the bus
// itself ran, and where they fitted they faulted in every page the bus
// never touched. Here the machine is made 64 MiB and the bus holds 80 MiB
// of pages; the control shows the bound still bites a pre-faulted replay.
func TestReplayOfLazyBusIsLazy(t *testing.T) {
	saved := physicalMemory
	physicalMemory = func() int64 { return 64 << 20 }
	defer func() { physicalMemory = saved }()

	dir := t.TempDir()
	e := openT(t, dir, &Options{LazyPageMemory: true, CheckpointBytes: -1})
	defer e.Close()
	ids := mustCreate(t, e, 80, 1<<20)
	commitT(t, e, w(ids[0], 0, "first"), w(ids[79], 1<<19, "last"))
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	commitT(t, e, w(ids[40], 7, "after"))

	for _, fromNewest := range []bool{false, true} {
		rep, err := e.VerifyReplay(ctx, fromNewest)
		if err != nil || !rep.Equal() {
			t.Fatalf("VerifyReplay(%v) of a lazy bus of 80 MiB on a 64 MiB machine: %+v, %v", fromNewest, rep, err)
		}
	}
	r, err := e.Replay(ctx, ReplayTarget{})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	r.Close()
	b, _, err := e.ReadPageAt(ctx, ids[40], e.LastLSN())
	if err != nil || string(b[7:12]) != "after" {
		t.Fatalf("ReadPageAt: %q, %v", b[:12], err)
	}
	r, err = Replay(ctx, dir, ReplayTarget{}, &Options{LazyPageMemory: true})
	if err != nil {
		t.Fatalf("package Replay with LazyPageMemory: %v", err)
	}
	r.Close()
	// Control: a pre-faulted replay of the same directory is refused.
	if r, err := Replay(ctx, dir, ReplayTarget{}, nil); !errors.Is(err, ErrNoSpace) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("pre-faulted replay of 80 MiB on a 64 MiB machine: %v, want ErrNoSpace", err)
	}
}
