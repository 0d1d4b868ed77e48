package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// TestSharedCreateBeyondPhysicalMemory: a shared bus bounds pre-faulted
// page memory by the machine's memory as a private bus does
// (TestCreateBeyondPhysicalMemory): a create batch whose pages, with the
// live ones, exceed it is ErrNoSpace naming the limit before anything is
// mapped, and what fits is created. The shared store, which replaces the
// private one at Open, did not inherit the bound: the batch was mapped
// and pre-faulted chunk by chunk into the tmpfs, which only stops it when
// it is smaller than the machine's memory (control: "create of 60 MiB
// with 8 MiB live under a 64 MiB machine: <nil>"). A lazy shared bus is
// not bounded (its chunks are allocated on the tmpfs, which refuses what
// does not fit).
func TestSharedCreateBeyondPhysicalMemory(t *testing.T) {
	specs := machineOf64MiB(t, 60) // 60 MiB
	shm := scratchShmDir(t)
	e := openT(t, t.TempDir(), &Options{Shared: true, SharedDir: shm})
	refusesBeyondTheMachine(t, e, specs, 8)

	lazy := openT(t, t.TempDir(), &Options{Shared: true, SharedDir: shm, LazyPageMemory: true})
	mustCreate(t, lazy, 8, 1<<20)
	if _, err := lazy.CreatePages(ctx, specs); err != nil {
		t.Fatalf("lazy shared bus, 60 MiB of pages with 8 MiB live: %v", err)
	}
}

// machineOf64MiB makes the machine's memory 64 MiB for the test (restored
// after it) and returns specs of n pages of 1 MiB.
func machineOf64MiB(t *testing.T, n int) []PageSpec {
	t.Helper()
	saved := physicalMemory
	physicalMemory = func() int64 { return 64 << 20 }
	t.Cleanup(func() { physicalMemory = saved })
	specs := make([]PageSpec, n)
	for i := range specs {
		specs[i] = PageSpec{Size: 1 << 20}
	}
	return specs
}

// refusesBeyondTheMachine checks, on a bus of a 64 MiB machine
// (machineOf64MiB), that a create of 60 MiB (specs[:60]) with 8 MiB of
// pages live is ErrNoSpace naming the limit and leaves nothing mapped,
// and that the bus goes on: a create of the first fit pages of specs
// after it is made and written.
func refusesBeyondTheMachine(t *testing.T, e *Bus, specs []PageSpec, fit int) {
	t.Helper()
	small := mustCreate(t, e, 8, 1<<20) // 8 MiB live
	_, err := e.CreatePages(ctx, specs[:60])
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "exceed the limit of 67108864 bytes of page memory") {
		t.Fatalf("create of 60 MiB with 8 MiB live under a 64 MiB machine: %v; want ErrNoSpace naming the limit", err)
	}
	if st := e.Stats(); st.Store.ArenaBytes > 16<<20 {
		t.Fatalf("the refused batch left %d bytes of page memory mapped", st.Store.ArenaBytes)
	}
	// The bus goes on: what fits is created, and written.
	ids, err := e.CreatePages(ctx, specs[:fit])
	if err != nil {
		t.Fatalf("create of %d MiB after the refusal: %v", fit, err)
	}
	commitT(t, e, w(ids[fit-1], 0, "x"), w(small[0], 0, "y"))
}
