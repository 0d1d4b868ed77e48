//go:build !amd64

package page

import "sync/atomic"

// storeSeq stores a sequence word (release ordering on every platform).
func storeSeq(p *uint64, v uint64) { atomic.StoreUint64(p, v) }
