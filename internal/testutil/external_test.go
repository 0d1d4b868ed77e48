package testutil

import (
	"testing"
)

// recorder captures what NeedExternal does instead of ending the test.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skip(...any)           { r.skipped = true }

func TestNeedExternalSkipsOrFails(t *testing.T) {
	for _, tc := range []struct {
		env        string
		fail, skip bool
	}{
		{"", false, true},
		{"0", false, true},
		{"1", true, false},
	} {
		t.Setenv(EnvRequireExternal, tc.env)
		r := &recorder{TB: t}
		NeedExternal(r, "x", "tests")
		if r.failed != tc.fail || (tc.skip && !r.skipped) {
			t.Errorf("%s=%q: failed %v skipped %v, want failed %v skipped %v", EnvRequireExternal, tc.env, r.failed, r.skipped, tc.fail, tc.skip)
		}
	}
}
