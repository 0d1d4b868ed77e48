package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionCommand: `mmsb version` says which build runs (module, Go
// version, platform), `mmsb --version` prints the same, --json prints the
// same facts as one object, and an argument is a usage error. There was no
// way to learn the build: `mmsb version` was an unknown command and
// --version an unknown flag (both exit 2).
func TestVersionCommand(t *testing.T) {
	text := runCLI(t, "version").mustCode(t, 0).stdout
	for _, want := range []string{"mmsb ", "github.com/mmsb-go/mmsb", "revision  ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(text, want) {
			t.Errorf("mmsb version does not say %q:\n%s", want, text)
		}
	}
	if got := runCLI(t, "--version").mustCode(t, 0).stdout; got != text {
		t.Errorf("mmsb --version printed\n%s\nmmsb version printed\n%s", got, text)
	}
	var v versionResult
	out := runCLI(t, "version", "--json").mustCode(t, 0).stdout
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("mmsb version --json: %v\n%s", err, out)
	}
	if v.Module != "github.com/mmsb-go/mmsb" || v.Version == "" || v.GoVersion != runtime.Version() || v.OS != runtime.GOOS || v.Arch != runtime.GOARCH {
		t.Errorf("mmsb version --json = %+v, want this module, a version, %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	if r := runCLI(t, "version", "extra").mustCode(t, 2); !strings.Contains(r.stderr, "takes no arguments") {
		t.Errorf("mmsb version extra: stderr %q, want it to say the command takes no arguments", r.stderr)
	}
}

// TestVersionFromBuildInfo: the VCS stamp of `go build` in a checkout
// (revision, time, modified) and a module version are reported as
// stamped; a binary with no build information, or one built from a
// checkout, is "(devel)" with an unknown revision rather than blank.
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/mmsb-go/mmsb", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T13:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := buildVersion(bi)
	want := versionResult{
		Module: "github.com/mmsb-go/mmsb", Version: "v1.2.3",
		Revision: "0123456789abcdef0123456789abcdef01234567", RevisionTime: "2026-12-06T13:00:00Z", Modified: true,
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
	}
	if v != want {
		t.Errorf("buildVersion = %+v, want %+v", v, want)
	}
	var b strings.Builder
	if err := v.writeText(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"mmsb v1.2.3\n", "revision  0123456789abcdef0123456789abcdef01234567 (modified: uncommitted changes) 2026-12-06T13:00:00Z\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("text output lacks %q:\n%s", s, b.String())
		}
	}

	for name, bi := range map[string]*debug.BuildInfo{
		"no build information": nil,
		"a checkout build":     {Main: debug.Module{Path: "github.com/mmsb-go/mmsb", Version: "(devel)"}},
		"no main module":       {},
	} {
		v := buildVersion(bi)
		if v.Version != "(devel)" || v.Module != "github.com/mmsb-go/mmsb" || v.Revision != "" || v.Modified {
			t.Errorf("%s: %+v, want (devel) of github.com/mmsb-go/mmsb, no revision", name, v)
		}
		var b strings.Builder
		if err := v.writeText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "revision  unknown (not stamped") {
			t.Errorf("%s: the revision is not called unknown:\n%s", name, b.String())
		}
	}
}
