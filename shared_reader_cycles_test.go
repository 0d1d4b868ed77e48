package mmsb_test

import (
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReaderOpenCloseKeepsAddressSpace: a process that opens a Reader,
// reads and closes it, over and over (the documented answer to ErrStale
// is to close and reopen; a program may open one per request), used to
// keep every closed Reader's ranges reserved as zero pages for the life
// of the process: ~17 MiB per cycle (16 MiB of chunk table), so 32 cycles
// reserved 540 MB and 10,000 reserved 170 GB, until mmap failed in a
// process with a bounded address space (ulimit -v, 32-bit), the Go
// runtime's own included. Closed readers' ranges are now reused by the
// next reader's mappings of the same lengths: the reservation stays flat,
// and so does the number of descriptors.
func TestReaderOpenCloseKeepsAddressSpace(t *testing.T) {
	dir, shm, _ := handMadeRegion(t, 0)
	cycle := func() {
		rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
		if err != nil {
			t.Fatal(err)
		}
		b, _, _, err := rd.ReadPage(1, nil)
		if cerr := rd.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil || len(b) != 100 {
			t.Fatalf("read of page 1: %d bytes, %v", len(b), err)
		}
	}
	cycle() // the first Close leaves the ranges the next cycles reuse
	const cycles = 32
	before := zeroPageBytes(t)
	fdsBefore, _, _ := selfResources(t, shm)
	for range cycles {
		cycle()
	}
	after := zeroPageBytes(t)
	// Nor a descriptor, nor a mapping of a region file (the writer's own,
	// this process's store, are under the region directory too: only the
	// descriptor count is compared).
	if fds, _, _ := selfResources(t, shm); fds > fdsBefore+4 {
		t.Errorf("%d OpenReader/Close cycles: %d descriptors before, %d after", cycles, fdsBefore, fds)
	}
	t.Logf("zero-page reservations: %d bytes before, %d after %d OpenReader/Close cycles", before, after, cycles)
	if grew := after - before; grew > 4*16<<20 {
		t.Fatalf("%d OpenReader/Close cycles left %d more bytes of address space reserved", cycles, grew)
	}
}
