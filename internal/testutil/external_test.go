package testutil

import (
	"testing"
)

// recorder captures what Missing does instead of ending the test.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }

func TestMissingSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env        string
		fail, skip bool
	}{
		{"", false, true},
		{"0", false, true},
		{"1", true, false},
	} {
		t.Setenv(RequireExternalEnv, tc.env)
		r := &recorder{TB: t}
		Missing(r, "x missing")
		if r.failed != tc.fail || r.skipped != tc.skip {
			t.Errorf("%s=%q: failed %v skipped %v, want %v %v", RequireExternalEnv, tc.env, r.failed, r.skipped, tc.fail, tc.skip)
		}
	}
}
