package mmsb

import (
	"errors"
	"strings"
	"testing"
)

// Pre-faulted page memory is bounded by the machine's memory: a create
// batch whose pages, with the live ones, add up to more is ErrNoSpace
// before anything is mapped, and the bus goes on. (A C caller's batch of
// 8,192 pages of 16 MiB on a 24 GB machine pre-faulted 17 GB and ran on
// until the OOM killer.) Here the machine is made 64 MiB; a lazy bus is
// not bounded.
func TestCreateBeyondPhysicalMemory(t *testing.T) {
	saved := physicalMemory
	physicalMemory = func() int64 { return 64 << 20 }
	defer func() { physicalMemory = saved }()

	specs := make([]PageSpec, 80) // 80 MiB
	for i := range specs {
		specs[i] = PageSpec{Size: 1 << 20}
	}
	e := openT(t, "", nil)
	defer e.Close()
	small := mustCreate(t, e, 8, 1<<20) // 8 MiB live
	_, err := e.CreatePages(ctx, specs[:60])
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "exceed the limit of 67108864 bytes of page memory") {
		t.Fatalf("create of 60 MiB with 8 MiB live under a 64 MiB machine: %v; want ErrNoSpace naming the limit", err)
	}
	if st := e.Stats(); st.Store.ArenaBytes > 16<<20 {
		t.Fatalf("the refused batch left %d bytes of page memory mapped", st.Store.ArenaBytes)
	}
	// The bus goes on: what fits is created, and written.
	ids, err := e.CreatePages(ctx, specs[:40])
	if err != nil {
		t.Fatalf("create of 40 MiB after the refusal: %v", err)
	}
	commitT(t, e, w(ids[39], 0, "x"), w(small[0], 0, "y"))

	lazy := openT(t, "", &Options{LazyPageMemory: true})
	defer lazy.Close()
	if _, err := lazy.CreatePages(ctx, specs); err != nil {
		t.Fatalf("lazy bus, 80 MiB of pages: %v", err)
	}
}
