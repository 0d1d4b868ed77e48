package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// read --f64 of a page whose size is not a multiple of 8 shows the bytes
// no float64 holds (they were dropped without a word).
func TestReadF64TrailingBytes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	runCLI(t, "bench", "--dir", dir, "--pages", "3", "--page-size", "13", "--delta-size", "5", "--count", "100").mustCode(t, exitOK)
	r := runCLI(t, "read", dir, "--page", "1", "--f64").mustCode(t, exitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "5 trailing bytes, not a float64") {
		t.Fatalf("read --f64 of a 13-byte page:\n%s\nwant a header, one float64 and a line with the 5 trailing bytes", r.stdout)
	}
}
