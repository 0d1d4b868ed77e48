package page

import "sync/atomic"

// The free word (docs/formats.md, header offset 128): the LSN of the last
// free the writer applied, stored before the freed slot changes.
//
// Why: a commit's operations are applied before its last LSN is published
// (the bus applies the batch, then PublishLSN). A reader's snapshot at
// committed LSN L that finds a page missing cannot tell, from the
// committed LSN alone, a page absent at L from one that a commit after L
// has freed but not yet published: the committed LSN is still L in both
// cases. With the free word it can: after it saw the page missing, a free
// word above L means a free after L may be why, and the snapshot waits
// for that commit and retries (root package, Reader.SnapshotInto); a free
// word at or below L means every free applied so far is published, so the
// page was missing at L.
//
// Frees are rare, so one more atomic store each costs nothing that
// matters; deltas and creates do not touch the word. It lies in header
// bytes that were zero in format version 1, so the version did not change:
// a writer without it leaves 0 (a reader then knows of no free, and
// behaves as before it), and a reader without it ignores it.
const hFreeLSN = 128

// noteFree publishes lsn, the LSN of a free about to be applied, in the
// free word. Called before the slot's sequence word goes odd: a reader
// that sees any effect of the free (the slot's ID or size cleared, its
// word moved) then also sees this store (the stores are ordered, and the
// reader loads the free word after those).
func (b *shmBacking) noteFree(lsn uint64) {
	atomic.StoreUint64(shmWord(b.hdr, hFreeLSN), lsn)
}

// FreeLSN returns the LSN of the last free the writer applied, published
// or not (0: none, or a writer that predates the free word). A reader
// that found a page missing loads it afterwards: a value above the
// committed LSN it read before means the page may exist at that LSN and
// have been freed by a commit not published yet (see hFreeLSN). 0 if the
// header cannot be read (State then says StateUnreadable).
func (r *ShmReader) FreeLSN() uint64 {
	l, _ := r.loadHdr(hFreeLSN, "load the free word")
	return l
}
