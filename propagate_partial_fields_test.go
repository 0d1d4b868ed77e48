package mmsb

// heldOf returns what a wave's result says it held back: the number of
// derived pages, and the pages whose function failed.
func heldOf(r *PropagateResult) (int, []PageID) { return r.HeldBack, r.Failed }

// errCounts returns the pages held back and the functions failed that a
// wave's RecomputeError reports.
func errCounts(re *RecomputeError) (heldBack, failures int) { return re.HeldBack, re.Failures }
