package page

// readFence orders the seqlock payload loads before the second sequence
// load: a load barrier (DMB ISHLD). An atomic read-modify-write of a
// private word, what other weakly ordered platforms use, is not enough
// on every arm64 CPU: without the LSE atomics (ARMv8.0 cores) Go's is an
// LDAXR/STLXR loop, whose acquire and release halves let the payload
// loads be satisfied after the sequence load that follows, so a copy
// torn by a write that began meanwhile could pass the check.
// TestSeqlockBarriersArm64 checks the instruction.
//
//go:noescape
func readFence()
