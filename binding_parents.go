package mmsb

// BindingParents returns up to limit of a derived page's binding parents,
// from the offset-th on (counted from 0, in the order Bind listed them),
// how many parents the binding has in all, and whether id is bound.
// Unlike Binding it copies only the parents asked for: Binding copies
// every parent (8 MiB for a binding of 2^20 parents) for a caller that
// shows a few of them (the inspector's page view lists 1,000 at a time).
//
// An offset below 0 counts as 0; an offset at or past the total, or a
// limit of 0 or less, returns no parents (and still the total), so that a
// caller pages through the parents with offset += limit until offset >=
// total. Like Binding, it answers with the bindings at Close after Close.
func (e *Bus) BindingParents(id PageID, offset, limit int) (parents []PageID, total int, ok bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	b, ok := e.bindings[id]
	if !ok {
		return nil, 0, false
	}
	total = len(b.Parents)
	offset = min(max(offset, 0), total)
	// total-offset, not offset+limit: that sum overflows for a limit
	// near the largest int.
	n := min(max(limit, 0), total-offset)
	if n == 0 {
		return nil, total, true
	}
	return append([]PageID(nil), b.Parents[offset:offset+n]...), total, true
}
