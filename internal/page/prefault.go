package page

import "runtime"

// MemoryPolicy says how the store prepares the memory that holds page bytes
// when it maps a new chunk. The zero value maps lazily and without huge
// pages; DefaultMemoryPolicy is what a bus uses unless told otherwise.
type MemoryPolicy struct {
	// Prefault populates a chunk's memory when the chunk is mapped (page
	// creation), instead of on the first write to each OS page. Page
	// creation pays the page faults (and zeroing) up front, so that the
	// first commits and ticks after setup do not: with huge pages a single
	// first write to a 2 MiB region faults in and zeroes all of it while
	// the committer holds the bus lock. The price is that created but never
	// written pages are resident too (their memory is counted from the
	// start), and creating pages takes longer (docs/benchmarks.md gives
	// the cost per GiB).
	Prefault bool
	// HugePages asks for transparent huge pages (MADV_HUGEPAGE) on chunks
	// of at least 4 MiB. Page bytes are written at random offsets, and with
	// 4 KiB OS pages nearly every delta to a random page misses the TLB.
	// Advisory: where THP is off it does nothing.
	HugePages bool
}

// DefaultMemoryPolicy pre-faults chunks; huge pages are opt-in for
// anonymous chunks (shared chunks always ask for them, see prepareChunk).
var DefaultMemoryPolicy = MemoryPolicy{Prefault: true}

// SetMemoryPolicy sets how chunks mapped from now on are prepared; chunks
// already mapped keep theirs. Call it before the first Create for a store
// whose every chunk follows one policy.
func (s *Store) SetMemoryPolicy(p MemoryPolicy) { s.policy = p }

// MemoryPolicy returns the store's memory policy.
func (s *Store) MemoryPolicy() MemoryPolicy { return s.policy }

// prepareChunk applies the memory policy to a freshly mapped chunk. A
// chunk that cannot be populated (the system or the tmpfs is out of
// memory) is an error, so that the creation fails cleanly instead of the
// process dying at a later write.
func (a *arena) prepareChunk(mem []byte) error {
	p := a.policy
	// Shared chunks always ask: on a huge=advise tmpfs they made commits
	// 20-25 % and random reads 25-40 % faster (docs/shm.md).
	p.HugePages = p.HugePages || a.shm != nil
	return p.prepare(mem)
}

// prepare applies the policy to freshly mapped memory.
func (p MemoryPolicy) prepare(mem []byte) error {
	if p.HugePages && len(mem) >= hugeHintBytes {
		adviseHugeRaw(mem)
	}
	if !p.Prefault {
		return nil
	}
	if err := populate(mem); err != nil {
		return err
	}
	readPages(mem)
	return nil
}

// MapAnon maps n bytes of private, zero-filled anonymous memory prepared
// as the store prepares a chunk of page bytes under policy p, for code
// that must meet the store on equal terms (mmsb bench's bare loop).
// Release it with Unmap.
func MapAnon(n int, p MemoryPolicy) ([]byte, error) {
	mem, err := mapAnonPlain(n)
	if err != nil {
		return nil, err
	}
	if err := p.prepare(mem); err != nil {
		_ = unmap(mem) // the preparation's error is the one to report
		return nil, err
	}
	return mem, nil
}

// Unmap releases memory mapped by MapAnon.
func Unmap(mem []byte) error { return unmap(mem) }

// readPages reads one byte per OS page of mem. On a virtual machine the
// first access to a page can cost more than the fault that mapped it:
// on a Firecracker VM on AMD EPYC, touching pages that MADV_POPULATE_WRITE
// had just mapped still took ~6 µs a page, with no page fault (the
// hypervisor's work), and ticks after page creation paid it (validate #6:
// the first dozen ticks took 6-227 ms, docs/benchmarks.md). Reading each
// page once here moves that cost to creation as well; where it is absent
// the loop costs a few milliseconds per GiB.
func readPages(mem []byte) {
	var s byte
	for i := 0; i < len(mem); i += osPageSize {
		s |= mem[i]
	}
	runtime.KeepAlive(s)
}

// touchPages writes one zero byte per OS page of mem, which faults each
// page in. Only for memory that is still all zeros (a fresh chunk): the
// write changes nothing a reader could see.
func touchPages(mem []byte) {
	for i := 0; i < len(mem); i += osPageSize {
		mem[i] = 0
	}
}
