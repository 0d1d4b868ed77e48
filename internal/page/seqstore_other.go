//go:build !amd64 && !arm64

package page

import "sync/atomic"

// storeSeq stores a sequence word (release ordering on every platform):
// the page stores before it are visible before it, which is what the even
// word that closes a write needs.
func storeSeq(p *uint64, v uint64) { atomic.StoreUint64(p, v) }

// beginSeq stores the odd sequence word that opens a write. A release
// store is not enough here: on a weakly ordered CPU (arm64) the page
// stores that follow it could become visible before it, and a reader
// could copy half-written bytes between two loads of the old even word
// and accept them. A swap is a fully ordered read-modify-write (arm64:
// SWPAL), so the page stores that follow are ordered after it, the
// writer's half of what readFence does for readers.
func beginSeq(p *uint64, v uint64) { atomic.SwapUint64(p, v) }
