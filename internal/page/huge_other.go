//go:build !linux

package page

// adviseHugeRaw does nothing where the kernel has no transparent huge
// pages to ask for (MADV_HUGEPAGE is Linux's); the advice is optional.
func adviseHugeRaw([]byte) {}
