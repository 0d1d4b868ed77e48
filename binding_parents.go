package mmsb

// BindingParents returns a derived page's binding with up to limit of its
// parents, from the offset-th on (counted from 0, in the order Bind listed
// them), how many parents the binding has in all, and whether id is
// bound. The function, parameters and parents come from one snapshot:
// reading the function (BindingFunc) and the parents in two calls could
// show a function with the parents of the binding that replaced it (the
// inspector's page view during a rebind). Unlike Binding it copies only
// the parents asked for: Binding copies every parent (8 MiB for a binding
// of 2^20 parents) for a caller that shows a few of them (the inspector's
// page view lists 1,000 at a time).
//
// An offset below 0 counts as 0; an offset at or past the total, or a
// limit of 0 or less, returns no parents (and still the function and the
// total), so that a caller pages through the parents with offset += limit
// until offset >= total. Like Binding, it answers with the bindings at
// Close after Close.
func (e *Bus) BindingParents(id PageID, offset, limit int) (b Binding, total int, ok bool) {
	e.rlockSettled()
	defer e.mu.RUnlock()
	bd, ok := e.bindings[id]
	if !ok {
		return Binding{}, 0, false
	}
	b = Binding{Func: bd.Func, Params: append([]byte(nil), bd.Params...)}
	total = len(bd.Parents)
	offset = min(max(offset, 0), total)
	// total-offset, not offset+limit: that sum overflows for a limit
	// near the largest int.
	n := min(max(limit, 0), total-offset)
	if n > 0 {
		b.Parents = append([]PageID(nil), bd.Parents[offset:offset+n]...)
	}
	return b, total, true
}
