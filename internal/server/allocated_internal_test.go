package server

import "testing"

// TestAllocatedCoversSizeClasses: allocated(n), what the decode budgets
// (binary and JSON) count for a string or bytes of n, is at least what
// the allocator gives for n bytes, the capacity append rounds a slice of
// n bytes up to: every n up to 4 KiB, then every 64th up to 128 KiB and
// a few large sizes. Until 2026-12-07 it counted an eighth more, which
// fell short where size classes are further apart: 33 bytes take 48 (40
// counted), 49 take 64 (56), 769 take 896 (872), 3457 take 4096 (3896).
func TestAllocatedCoversSizeClasses(t *testing.T) {
	check := func(n int) {
		t.Helper()
		if c := cap(append([]byte(nil), make([]byte, n)...)); allocated(int64(n)) < int64(c) {
			t.Fatalf("allocated(%d) = %d; the allocator gives %d bytes", n, allocated(int64(n)), c)
		}
	}
	for n := 1; n <= 4096; n++ {
		check(n)
	}
	for n := 4097; n <= 128<<10; n += 64 {
		check(n)
	}
	for _, n := range []int{32769, 40961, 1 << 20, 1<<20 + 1, 16<<20 + 3} {
		check(n)
	}
	if allocated(0) != 0 || allocated(-1) != 0 {
		t.Errorf("allocated(0) = %d, allocated(-1) = %d; want 0", allocated(0), allocated(-1))
	}
}
