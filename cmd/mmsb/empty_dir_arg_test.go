package main

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEmptyDirArgRefused: every command taking DIR (its Args is dirArg)
// refuses an empty one (`mmsb read "$DIR" --page 1` with DIR unset) as a
// usage error, exit 2, nothing on stdout, as an empty flag value is
// (TestEmptyFlagValuesRefused). It was looked up as a path: "not an MMSB
// data directory: \"\": no such file or directory ... the next Open makes
// a new bus there", exit 1. The control: a DIR that is not there is still
// refused as no data directory (exit 1), so the check is the empty value's.
func TestEmptyDirArgRefused(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard}
	var names []string
	walkCommands(a.rootCmd(), func(cmd *cobra.Command) {
		if cmd.Args != nil && reflect.ValueOf(cmd.Args).Pointer() == reflect.ValueOf(cobra.PositionalArgs(dirArg)).Pointer() {
			names = append(names, cmd.Name())
		}
	})
	for _, want := range []string{"read", "inspect", "check", "graph", "checkpoint", "replay", "watch"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("%s does not take DIR through dirArg (commands that do: %q)", want, names)
		}
	}
	missing := t.TempDir() + "/missing"
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			extra := map[string][]string{"read": {"--page", "1"}, "replay": {"--out", t.TempDir() + "/out"}}[name]
			r := runCLI(t, append([]string{name, ""}, extra...)...).mustCode(t, exitUsage)
			want := name + ` DIR "": an empty value (an unset variable?): give the data directory`
			if !strings.Contains(r.stderr, want) || r.stdout != "" {
				t.Fatalf("mmsb %s \"\": stderr %q, stdout %q; want %q", name, r.stderr, r.stdout, want)
			}
			if name == "watch" {
				return // it waits for a writer to make the bus
			}
			r = runCLI(t, append([]string{name, missing}, extra...)...)
			if r.code == exitUsage || !strings.Contains(r.stderr, "not an MMSB data directory") {
				t.Fatalf("mmsb %s %s: exit %d, stderr %q; want it refused as no data directory", name, missing, r.code, r.stderr)
			}
		})
	}
}
