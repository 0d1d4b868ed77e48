// Package mmsb is the Memory-Mapped State Bus: one deterministic, versioned,
// byte-level store of shared program state.
//
// State lives in pages (fixed-size byte regions with a 64-bit ID and a
// per-page epoch). Pages change only through deltas, committed in batches
// that are validated, logged in one total order (LSNs) and applied
// atomically. Checkpoints plus the log tail recover the state exactly, and a
// replay of the log reproduces it bit for bit. A dependency graph of typed
// edges recomputes derived pages through registered pure functions, tick by
// tick, and validators prove the guarantees.
//
//	bus, err := mmsb.Open("data", nil) // or mmsb.Open("", nil) for in-memory
//	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
//	_, err = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("hello"))})
//	buf, epoch, err := bus.ReadPage(id, nil)
//
// See docs/ for the architecture, file formats and operations.
package mmsb
