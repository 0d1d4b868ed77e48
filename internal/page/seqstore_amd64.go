package page

// storeSeq stores a sequence word with a plain MOV. On amd64 (TSO) stores
// become visible in program order, so this is a release store; being an
// assembly call it is also a compiler barrier: the page writes before and
// after it are not moved across it. A LOCK-prefixed atomic here stalled
// the commit path on the sequence word's cache miss (3x slower commits).
//
//go:noescape
func storeSeq(p *uint64, v uint64)

// beginSeq stores the odd sequence word that opens a write. On amd64 the
// page stores that follow cannot become visible before it (TSO), so it is
// storeSeq.
func beginSeq(p *uint64, v uint64) { storeSeq(p, v) }
