package page

import (
	"slices"

	"github.com/mmsb-go/mmsb/internal/base"
)

// The ID index maps page IDs to slots in two parts:
//
//   - a dense window: dense[id-denseBase] = slot+1 (0 = none), for IDs in
//     [denseBase, denseBase+len(dense)). Lookup there is a subtraction, one
//     compare and an array load. Auto-assigned IDs are dense from 1, so
//     normally every page is here and the window starts at 0; when old pages
//     are freed and new ones get ever larger IDs (churn), the window slides
//     forward past the freed range instead of growing without bound.
//   - a sparse map for IDs the window does not cover (huge or scattered IDs).
//
// A page is in exactly one part. Lookup tries the window first and falls
// back to the map on a miss (cheap: a length check while the map is empty),
// so the window may move without first migrating every sparse ID it now
// covers; migration is an optimisation done when it is cheap.
//
// Memory: the window is only placed or grown while it spans at most
// denseFactor×(live pages)+denseSlack IDs, so it costs a bounded number of
// bytes per live page (4 per entry), whatever IDs are used.
const (
	denseFactor = 4
	denseSlack  = 64 << 10
	denseMin    = 64 << 10
	// maxEvict is the most live window entries that may be pushed into the
	// map to move the window backwards (e.g. after a first, huge ID).
	maxEvict = 16
)

// Lookup returns the slot of page id. This is on the hot path: it must not
// allocate and should be O(1). Pages created in ID order and never freed
// need no memory access at all (ident); the rest take one index load in
// the dense window. Lookup no longer inlines (the prefix check took it
// over the inliner's budget); the call costs a few ns, the index load it
// spares on a large bus a cache miss.
func (s *Store) Lookup(id base.PageID) (Slot, bool) {
	if id-1 < s.ident { // id 0 wraps around and fails this
		return Slot(id - 1), true
	}
	return s.lookupIndex(id)
}

// lookupIndex is Lookup through the index: a direct load for IDs in the
// dense window, the map beyond it.
func (s *Store) lookupIndex(id base.PageID) (Slot, bool) {
	if i := id - s.denseBase; i < base.PageID(len(s.dense)) {
		if v := s.dense[i]; v != 0 {
			return Slot(v - 1), true
		}
	}
	if len(s.sparse) == 0 {
		return -1, false
	}
	sl, ok := s.sparse[id]
	if !ok {
		return -1, false
	}
	return Slot(sl), true
}

// indexInsert records id -> sl; id must not be indexed yet. It reports
// whether id joined the in-order prefix (ident).
func (s *Store) indexInsert(id base.PageID, sl Slot) bool {
	inOrder := id == s.ident+1 && sl == Slot(s.ident)
	if inOrder {
		s.ident++
	}
	if i := id - s.denseBase; i < base.PageID(len(s.dense)) {
		s.dense[i] = int32(sl) + 1
		s.denseLive++
		return inOrder
	}
	if s.sparse == nil {
		s.sparse = make(map[base.PageID]int32)
	}
	s.sparse[id] = int32(sl)
	return inOrder
}

// indexRemove removes id, which is indexed at sl.
func (s *Store) indexRemove(id base.PageID, sl Slot) {
	if id <= s.ident {
		// The pages after id keep their unwritten ids entries, which ID
		// goes on computing (a zero entry): the cut writes nothing.
		s.ident = id - 1
	}
	if i := id - s.denseBase; i < base.PageID(len(s.dense)) && s.dense[i] == int32(sl)+1 {
		s.dense[i] = 0
		s.denseLive--
		return
	}
	delete(s.sparse, id)
}

// denseLimit is the largest window span (in IDs) the policy allows now.
func (s *Store) denseLimit() base.PageID {
	return base.PageID(denseFactor*uint64(s.live+1) + denseSlack)
}

// chooseBase picks the window start that would let the window cover id, or
// reports that no placement within the size limit exists.
func (s *Store) chooseBase(id base.PageID) (base.PageID, bool) {
	limit := s.denseLimit()
	switch {
	case s.denseLive == 0:
		// Empty window: put it where id is, preferring the canonical 0.
		if id < limit {
			return 0, true
		}
		return id, true
	case id < s.denseBase:
		// Below a window that holds pages: only move back to 0, and only
		// when few pages must be evicted into the map to do so.
		return 0, id < limit && s.denseLive <= maxEvict
	case id-s.denseBase < limit:
		return s.denseBase, true // grow in place
	}
	// Above: slide forward to the lowest live entry (nothing to evict).
	nb := s.denseBase + base.PageID(s.firstLive())
	return nb, id-nb < limit
}

// firstLive returns the offset of the first non-zero window entry. The
// caller knows one exists.
func (s *Store) firstLive() int {
	for i, v := range s.dense {
		if v != 0 {
			return i
		}
	}
	return len(s.dense)
}

// placeDense moves and/or grows the window to cover id (which it does not
// cover now), if the policy allows. If it does not, further attempts are
// suspended for a while so that a stream of uncoverable IDs does not pay
// for repeated window scans. Only growing the mapping can fail.
func (s *Store) placeDense(id base.PageID) error {
	newBase, ok := s.chooseBase(id)
	if !ok {
		s.denseRetry = s.creates + uint64(max(len(s.dense)/4, 1024))
		return nil
	}
	n := max(denseMin, 2*int(id-newBase+1))
	if err := s.denseR.grow(4 * n); err != nil {
		return err
	}
	oldLen := len(s.dense)
	full := i32s(s.denseR.mem) // the mapping may have moved
	s.dense = full
	switch {
	case newBase < s.denseBase:
		s.evictDense()
	case newBase > s.denseBase && s.denseLive > 0:
		// newBase is at the first live entry, so nothing below it is lost.
		d := int(newBase - s.denseBase)
		copy(full, full[d:oldLen])
		clear(full[oldLen-d : oldLen])
	}
	s.denseBase = newBase
	// The window must not run past the last ID: entry i stands for ID
	// denseBase+i, and a window placed at a huge ID (2^64-1) whose entries
	// wrapped round to 0, 1, ... held small IDs after it, so the ID walks
	// (AppendIDs, AppendIDsFrom, ForEach) went out of ascending order. The
	// entries past the cap stay zero: only the capped view is written.
	s.dense = full[:min(uint64(len(full)), windowRoom(newBase))]
	// Migration walks the whole map: do it here only when that is paid for
	// by the window's size; rebalance does it otherwise.
	if len(s.sparse) > 0 && len(s.sparse) <= len(s.dense) {
		s.migrate()
	}
	return nil
}

// windowRoom is the number of IDs from b to the last ID, 2^64-1, included
// (saturated: from ID 0 that is 2^64, more than any window).
func windowRoom(b base.PageID) uint64 {
	if b == 0 {
		return ^uint64(0)
	}
	return -uint64(b)
}

// evictDense moves every window entry into the map (few: see maxEvict).
func (s *Store) evictDense() {
	if s.sparse == nil {
		s.sparse = make(map[base.PageID]int32)
	}
	for i, v := range s.dense {
		if v != 0 {
			s.sparse[s.denseBase+base.PageID(i)] = v - 1
			s.dense[i] = 0
		}
	}
	s.denseLive = 0
}

// migrate moves the sparse IDs that the window covers into it.
func (s *Store) migrate() {
	for pid, sl := range s.sparse {
		if i := pid - s.denseBase; i < base.PageID(len(s.dense)) {
			s.dense[i] = sl + 1
			s.denseLive++
			delete(s.sparse, pid)
		}
	}
}

// rebalance lets the window take over sparse IDs once the live-page count
// allows it to cover them. Without it, IDs that arrived early and high
// (e.g. a load in descending order) would stay on the map path forever,
// because later, lower IDs never trigger growth. It runs each time the
// live count doubles, so its map walk is amortised O(1) per Create.
func (s *Store) rebalance() {
	s.rebalanceAt = 2 * s.live
	limit := s.denseLimit()
	var top base.PageID
	found := false
	for pid := range s.sparse {
		i := pid - s.denseBase
		if pid >= s.denseBase && i >= base.PageID(len(s.dense)) && i < limit && pid >= top {
			top, found = pid, true
		}
	}
	if found {
		// Best effort: if the mapping cannot grow, lookups stay correct
		// through the map.
		_ = s.placeDense(top)
	}
	s.migrate()
}

// forEachID calls fn for every live page in ascending ID order until fn
// returns false, merging the window walk with the sorted sparse IDs. It
// costs O(window entries up to the last live one + k log k) for k sparse
// IDs.
func (s *Store) forEachID(fn func(id base.PageID, sl Slot) bool) {
	var sparse []base.PageID
	if len(s.sparse) != 0 {
		sparse = make([]base.PageID, 0, len(s.sparse))
		for id := range s.sparse {
			sparse = append(sparse, id)
		}
		slices.Sort(sparse)
	}
	j := 0
	// The window is at least denseMin entries: the walk stops at its last
	// live one (a 4-page bus walked 65,536 entries, 43 µs, per Pages call).
	left := s.denseLive
	for i, v := range s.dense {
		if left == 0 {
			break
		}
		if v == 0 {
			continue
		}
		left--
		id := s.denseBase + base.PageID(i)
		for ; j < len(sparse) && sparse[j] < id; j++ {
			if !fn(sparse[j], Slot(s.sparse[sparse[j]])) {
				return
			}
		}
		if !fn(id, Slot(v-1)) {
			return
		}
	}
	for ; j < len(sparse); j++ {
		if !fn(sparse[j], Slot(s.sparse[sparse[j]])) {
			return
		}
	}
}

// AppendIDsFrom appends to dst, in ascending order, the n smallest live
// page IDs >= from (fewer when fewer are left), for walks of the pages in
// pieces with the lock released between them (VerifyReplay). It costs
// O(window entries walked + sparse IDs), not O(live pages).
func (s *Store) AppendIDsFrom(dst []base.PageID, from base.PageID, n int) []base.PageID {
	var sparse []base.PageID
	for id := range s.sparse {
		if id >= from {
			sparse = append(sparse, id)
		}
	}
	slices.Sort(sparse) // map order must not leak
	i := 0
	if from > s.denseBase {
		i = int(min(from-s.denseBase, base.PageID(len(s.dense))))
	}
	j := 0
	for n > 0 && (i < len(s.dense) || j < len(sparse)) {
		if i < len(s.dense) && s.dense[i] == 0 {
			i++
			continue
		}
		if i < len(s.dense) && (j >= len(sparse) || s.denseBase+base.PageID(i) < sparse[j]) {
			dst = append(dst, s.denseBase+base.PageID(i))
			i++
		} else {
			dst = append(dst, sparse[j])
			j++
		}
		n--
	}
	return dst
}
