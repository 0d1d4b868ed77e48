// Package testutil holds small helpers shared by tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireExternalEnv is the environment variable that turns a missing
// outside program into a test failure instead of a skip (CI sets it to 1).
const RequireExternalEnv = "MMSB_REQUIRE_EXTERNAL"

// Missing reports that a test cannot run because something outside Go is
// absent (a program, a Python module, or an OS facility that CI's machine
// has: /dev/shm, a /proc file, symbolic links, FIFOs, root): it skips the
// test with the message, or fails it when RequireExternalEnv is "1", so
// that CI cannot pass by skipping. A skip that depends on the platform
// (GOOS, 32-bit), the build (race, invariants) or -short stays t.Skip.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireExternalEnv) == "1" {
		t.Fatalf("required by %s=1: "+format, append([]any{RequireExternalEnv}, args...)...)
		return
	}
	t.Skipf(format, args...)
}

// LookPath returns the path of program, or reports it Missing.
func LookPath(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Missing(t, "%s not found: %v", program, err)
	}
	return p
}
