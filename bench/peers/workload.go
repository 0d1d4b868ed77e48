package main

import (
	"fmt"
	"math/rand/v2"
)

// WriteSize is the reference workload's write: 16 bytes.
const WriteSize = 16

// Write is one delta of the reference workload: WriteSize bytes at Off in
// page Page (0-based; MMSB's page ID is Page+1).
type Write struct {
	Page uint32
	Off  uint32
	Data [WriteSize]byte
}

// Workload describes the reference workload: Deltas writes of WriteSize
// bytes at random offsets of random pages among Pages pages of PageSize
// bytes, committed in batches of Batch, drawn from Seed.
type Workload struct {
	Deltas   int
	Pages    int
	PageSize int
	Batch    int
	Seed     uint64
}

// DefaultWorkload is the reference workload (docs/benchmarks.md).
var DefaultWorkload = Workload{Deltas: 1_000_000, Pages: 65_536, PageSize: 1024, Batch: 1000, Seed: 1}

// Validate refuses workloads the targets cannot run.
func (w Workload) Validate() error {
	switch {
	case w.Deltas <= 0 || w.Pages <= 0 || w.Batch <= 0:
		return fmt.Errorf("workload: deltas %d, pages %d and batch %d must be positive", w.Deltas, w.Pages, w.Batch)
	case w.PageSize < WriteSize || w.PageSize > 1<<16:
		return fmt.Errorf("workload: page size %d outside %d..%d", w.PageSize, WriteSize, 1<<16)
	}
	return nil
}

// Batches draws the whole workload up front (so that drawing costs no
// target any time) as batches of at most w.Batch writes. The same workload
// always gives the same writes.
func (w Workload) Batches() [][]Write {
	rng := rand.New(rand.NewPCG(w.Seed, 0x6d6d7362)) // "mmsb"
	all := make([]Write, w.Deltas)
	for i := range all {
		wr := &all[i]
		wr.Page = uint32(rng.IntN(w.Pages))
		wr.Off = uint32(rng.IntN(w.PageSize - WriteSize + 1))
		for j := range wr.Data {
			wr.Data[j] = byte(rng.Uint32())
		}
	}
	var out [][]Write
	for len(all) > 0 {
		n := min(w.Batch, len(all))
		out = append(out, all[:n:n])
		all = all[n:]
	}
	return out
}

// Model applies batches to plain byte slices: the expected final pages.
func (w Workload) Model(batches [][]Write) [][]byte {
	pages := make([][]byte, w.Pages)
	for i := range pages {
		pages[i] = make([]byte, w.PageSize)
	}
	for _, b := range batches {
		for _, wr := range b {
			copy(pages[wr.Page][wr.Off:], wr.Data[:])
		}
	}
	return pages
}
