// Package exampletest holds what the example commands' tests share: the
// test binary run as the command (Child, Command) and the checks of how
// the command refuses flags it cannot use.
package exampletest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Child reports whether this test binary was started by Command to run
// the example's main rather than its tests (env is "1"). If so, it leaves
// in os.Args the program's name and the arguments after "--", for main's
// flags; the caller's TestMain then runs main.
func Child(env string) bool {
	if os.Getenv(env) != "1" {
		return false
	}
	for i, a := range os.Args {
		if a == "--" {
			os.Args = append([]string{os.Args[0]}, os.Args[i+1:]...)
			break
		}
	}
	return true
}

// Command returns a command that runs this test binary as the example
// with args: no test runs ("-test.run=^$"), and env=1 makes its TestMain
// run main (Child).
func Command(env string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), env+"=1")
	return cmd
}

// Example names an example command for the checks below.
type Example struct {
	Name string // the command's name, which starts its error lines ("game-ai")
	Env  string // the variable that makes the test binary run main (Command)
	// OwnTMPDIR gives each run a TMPDIR of its own, removed after the test
	// (a command whose bus writes scratch files there).
	OwnTMPDIR bool
}

// command is Command for x, with x's TMPDIR.
func (x Example) command(t *testing.T, args ...string) *exec.Cmd {
	cmd := Command(x.Env, args...)
	if x.OwnTMPDIR {
		cmd.Env = append(cmd.Env, "TMPDIR="+t.TempDir())
	}
	return cmd
}

// CheckExitsOne runs the example with args and fails the test unless it
// exits with status 1 and its output (stdout and stderr) holds want.
func (x Example) CheckExitsOne(t *testing.T, args []string, want string) {
	t.Helper()
	out, err := x.command(t, args...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 ||
		!strings.Contains(string(out), want) {
		t.Fatalf("%s %s: %v, output:\n%s\nwant exit status 1 and %q", x.Name, strings.Join(args, " "), err, out, want)
	}
}

// CheckPlotRefusedBeforeRun checks --plot after small, flags for a run
// that ends quickly: a regular file, or
// a path below one, is refused before the run (exit status 1, stderr
// starting with the name's "bad flag value: --plot PATH: ", nothing on
// stdout); a directory not there yet is made and the run writes chart in
// it (the control).
func (x Example) CheckPlotRefusedBeforeRun(t *testing.T, small []string, chart string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, plot string
		ok         bool
	}{
		{"a file", file, false},
		{"below a file", filepath.Join(file, "charts"), false},
		{"a new directory", filepath.Join(t.TempDir(), "a", "charts"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := x.command(t, append(small[:len(small):len(small)], "--plot", tc.plot)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tc.ok {
				if _, statErr := os.Stat(filepath.Join(tc.plot, chart)); err != nil || statErr != nil {
					t.Fatalf("--plot %s: %v (%s: %v); stderr:\n%s", tc.plot, err, chart, statErr, stderr.String())
				}
				return
			}
			var exit *exec.ExitError
			want := x.Name + ": bad flag value: --plot " + tc.plot + ": "
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.HasPrefix(stderr.String(), want) || stdout.Len() > 0 {
				t.Fatalf("--plot %s: %v; stderr:\n%s\nstdout:\n%s\nwant exit status 1, stderr starting %q and no run (nothing on stdout)",
					tc.plot, err, stderr.String(), stdout.String(), want)
			}
		})
	}
}

// CheckErrorLines fails the test unless each of errorLine's lines for
// errs names the command x.Name once, at the start ("game-ai: ..."):
// the commands' sentinel errors carry that prefix too.
func (x Example) CheckErrorLines(t *testing.T, errorLine func(error) string, errs ...error) {
	t.Helper()
	for _, err := range errs {
		line := errorLine(err)
		if strings.Count(line, x.Name+":") != 1 || !strings.HasPrefix(line, x.Name+": ") {
			t.Errorf("error line %q: want the command named once, at the start", line)
		}
	}
}
