//go:build !linux

package page

// PhysicalMemory returns 0 (unknown) where there is no portable way to
// ask: page memory is then not bounded by it.
func PhysicalMemory() int64 { return 0 }
