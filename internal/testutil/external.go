// Package testutil holds small helpers shared by tests of several packages.
package testutil

import (
	"os"
	"testing"
)

// EnvRequireExternal names the environment variable that turns skips for
// missing outside programs into failures (CI sets it to 1).
const EnvRequireExternal = "MMSB_REQUIRE_EXTERNAL"

// NeedExternal is called by a test whose outside program (python3 with
// numpy, gcc, redis-server, ...) is missing: it skips the test with a
// message naming the program, or fails it when MMSB_REQUIRE_EXTERNAL=1,
// so that CI cannot pass by skipping.
func NeedExternal(t testing.TB, program, why string) {
	t.Helper()
	msg := program + " is needed: " + why
	if os.Getenv(EnvRequireExternal) == "1" {
		t.Fatalf("%s (%s=1: required)", msg, EnvRequireExternal)
	}
	t.Skip(msg)
}
