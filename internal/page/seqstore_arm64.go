package page

import "sync/atomic"

// storeSeq stores the even sequence word that closes a write: a release
// store (STLR), so the page stores before it are visible before it.
func storeSeq(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// beginSeq stores the odd sequence word that opens a write, then a store
// barrier (DMB ISHST), so that no page store that follows can become
// visible before it. An atomic swap is not enough on every arm64 CPU:
// without the LSE atomics (ARMv8.0 cores: Cortex-A53/A57/A72, a
// Raspberry Pi 4, AWS Graviton 1) Go's swap is an LDAXR/STLXR loop, two
// one-way barriers that a later store may cross between the load and the
// store, so a reader could copy half-written bytes between two loads of
// the old even word and accept them. (With LSE it is SWPAL, which is
// fully ordered.) TestSeqlockBarriersArm64 checks the instructions.
//
//go:noescape
func beginSeq(p *uint64, v uint64)
