package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.versionCmd() }) }

// versionResult is what `mmsb version --json` prints: what the Go
// toolchain stamped into the binary (runtime/debug.ReadBuildInfo), which
// is all there is to know about which build runs.
type versionResult struct {
	// Module is the main module's path; Version its version: a tag or
	// pseudo-version for `go install ...@version`, "(devel)" for a build
	// from a checkout (or when the binary carries no build information).
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision, RevisionTime and Modified are the VCS stamp `go build`
	// adds in a checkout (-buildvcs): the commit, its time (RFC 3339),
	// and whether the tree had uncommitted changes. Revision and
	// RevisionTime are "" when the binary has no stamp (go run, go test,
	// -buildvcs=false, a build outside a repository).
	Revision     string `json:"revision"`
	RevisionTime string `json:"revision_time"`
	Modified     bool   `json:"modified"`
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
}

// buildVersion describes the build from ReadBuildInfo's answer (bi nil:
// none), so that tests can feed it any stamp.
func buildVersion(bi *debug.BuildInfo) versionResult {
	v := versionResult{
		Module:    "github.com/mmsb-go/mmsb",
		Version:   "(devel)",
		GoVersion: runtime.Version(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
	}
	if bi == nil {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.RevisionTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// writeText prints v as `mmsb --version` and `mmsb version` do.
func (v versionResult) writeText(w io.Writer) error {
	rev := v.Revision
	switch {
	case rev == "":
		rev = "unknown (not stamped: go run, go test, -buildvcs=false, or a build outside a git checkout)"
	case v.Modified:
		rev += " (modified: uncommitted changes)"
	}
	if v.RevisionTime != "" {
		rev += " " + v.RevisionTime
	}
	_, err := fmt.Fprintf(w, "mmsb %s\nmodule    %s\nrevision  %s\ngo        %s\nplatform  %s/%s\n",
		v.Version, v.Module, rev, v.GoVersion, v.OS, v.Arch)
	return err
}

// printVersion prints the running binary's version, as text or JSON.
func (a *app) printVersion(jsonOut bool) error {
	bi, _ := debug.ReadBuildInfo() // nil when the binary carries none
	v := buildVersion(bi)
	if jsonOut {
		return a.printJSON(v)
	}
	return v.writeText(a.stdout)
}

func (a *app) versionCmd() *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print which build of mmsb this is",
		Long: `version prints what the Go toolchain stamped into this binary: the module's
version ("(devel)" for a build from a checkout), the VCS revision it was built
from, that revision's time and whether the tree had uncommitted changes (a
"go build" in a git checkout stamps them; "go run" and "go test" do not), and
the Go version and platform it was built with. mmsb --version prints the same.`,
		Example: `  mmsb version
  mmsb --version
  mmsb version --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("%s takes no arguments, got %q", cmd.Name(), args)
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error { return a.printVersion(jsonOut) },
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object instead of text")
	return cmd
}
