package page

// readFence orders the seqlock payload loads before the second sequence
// load. amd64 never reorders loads with other loads, and the compiler does
// not move memory operations across the atomic load that follows.
func readFence() {}
