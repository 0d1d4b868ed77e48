package testutil

import "runtime"

// HeapAlloc returns the bytes of live heap objects after a collection, for
// tests that bound what a component keeps once it is done with a large
// input (deterministic enough to assert with a margin of megabytes).
func HeapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TotalAlloc returns the bytes allocated on the heap so far, freed or
// not: the difference across a call is what it allocated, whatever the
// garbage collector took back meanwhile.
func TotalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}
