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
	saved := physicalMemory
	physicalMemory = func() int64 { return 64 << 20 }
	defer func() { physicalMemory = saved }()

	shm := scratchShmDir(t)
	specs := make([]PageSpec, 60) // 60 MiB
	for i := range specs {
		specs[i] = PageSpec{Size: 1 << 20}
	}
	e := openT(t, t.TempDir(), &Options{Shared: true, SharedDir: shm})
	small := mustCreate(t, e, 8, 1<<20) // 8 MiB live
	_, err := e.CreatePages(ctx, specs)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "exceed the limit of 67108864 bytes of page memory") {
		t.Fatalf("create of 60 MiB with 8 MiB live under a 64 MiB machine: %v; want ErrNoSpace naming the limit", err)
	}
	if st := e.Stats(); st.Store.ArenaBytes > 16<<20 {
		t.Fatalf("the refused batch left %d bytes of page memory mapped", st.Store.ArenaBytes)
	}
	// The bus goes on: what fits is created, and written.
	ids, err := e.CreatePages(ctx, specs[:8])
	if err != nil {
		t.Fatalf("create of 8 MiB after the refusal: %v", err)
	}
	commitT(t, e, w(ids[7], 0, "x"), w(small[0], 0, "y"))

	lazy := openT(t, t.TempDir(), &Options{Shared: true, SharedDir: shm, LazyPageMemory: true})
	mustCreate(t, lazy, 8, 1<<20)
	if _, err := lazy.CreatePages(ctx, specs); err != nil {
		t.Fatalf("lazy shared bus, 60 MiB of pages with 8 MiB live: %v", err)
	}
}
