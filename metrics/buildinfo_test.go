package metrics

import (
	"runtime/debug"
	"testing"
)

// TestModuleVersion: where MMSB's version comes from in the build
// information. A dependency replaced by a directory (a checkout) is
// "(devel)", as the docs say of a checkout; it used to report the
// version the program required ("v1.2.0"), which is not the code running.
func TestModuleVersion(t *testing.T) {
	dep := func(v string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app", Version: "v0.1.0"},
			Deps: []*debug.Module{{Path: "example.com/other", Version: "v9.9.9"}, {Path: modulePath, Version: v, Replace: replace}},
		}
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"main module", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, "(devel)"},
		{"main module tagged", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.3.0"}}, "v1.3.0"},
		{"dependency", dep("v1.2.0", nil), "v1.2.0"},
		{"replaced by a module version", dep("v1.2.0", &debug.Module{Path: "example.com/fork", Version: "v1.2.1-fork"}), "v1.2.1-fork"},
		{"replaced by a directory", dep("v1.2.0", &debug.Module{Path: "../mmsb"}), "(devel)"},
		{"absent", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, "unknown"},
	} {
		if got := moduleVersion(tc.bi); got != tc.want {
			t.Errorf("%s: moduleVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
}
