package mmsb

import "testing"

// Pre-faulted page memory is bounded by the machine's memory: a create
// batch whose pages, with the live ones, add up to more is ErrNoSpace
// before anything is mapped, and the bus goes on. (A C caller's batch of
// 8,192 pages of 16 MiB on a 24 GB machine pre-faulted 17 GB and ran on
// until the OOM killer.) Here the machine is made 64 MiB; a lazy bus is
// not bounded.
func TestCreateBeyondPhysicalMemory(t *testing.T) {
	specs := machineOf64MiB(t, 80) // 80 MiB
	e := openT(t, "", nil)
	defer e.Close()
	refusesBeyondTheMachine(t, e, specs, 40)

	lazy := openT(t, "", &Options{LazyPageMemory: true})
	defer lazy.Close()
	if _, err := lazy.CreatePages(ctx, specs); err != nil {
		t.Fatalf("lazy bus, 80 MiB of pages: %v", err)
	}
}
