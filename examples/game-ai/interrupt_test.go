package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/examples/internal/exampletest"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// runMainEnv makes the test binary run the command's main with the
// arguments after "--" instead of the tests (TestInterruptCleansUp starts
// it as a separate process, so that it can be sent SIGINT).
const runMainEnv = "GAME_AI_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if exampletest.Child(runMainEnv) {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestInterruptCleansUp: Ctrl-C (SIGINT) during a --shared run stops it
// cleanly: the bus is closed, its temporary directory and its shared-memory
// region are removed, and the command says it was interrupted (exit status
// 130) rather than dying with them left behind.
func TestInterruptCleansUp(t *testing.T) {
	if _, err := os.Stat(mmsb.DefaultSharedDir); err != nil {
		testutil.Missing(t, "shared mode needs /dev/shm: %v", err)
	}
	tmp := t.TempDir()
	cmd := exampletest.Command(runMainEnv, "--shared", "--grid", "32", "--agents", "16", "--ticks", "1000000")
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the run has its bus directory and shared region.
	var dir, region string
	for deadline := time.Now().Add(30 * time.Second); region == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no bus directory with a shared region after 30 s:\n%s", out.String())
		}
		dirs, err := filepath.Glob(filepath.Join(tmp, "mmsb-game-ai-*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(dirs) == 1 {
			p, err := mmsb.SharedRegionPath(dirs[0], "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(p); err == nil {
				dir, region = dirs[0], p
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // into the tick loop
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = os.RemoveAll(region)
		t.Fatalf("still running 30 s after SIGINT:\n%s", out.String())
	}
	_, dirErr := os.Stat(dir)
	_, regionErr := os.Stat(region)
	_ = os.RemoveAll(region) // whatever the outcome, leave no region behind
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(out.String(), "interrupted") {
		t.Errorf("after SIGINT: %v, want exit status 130 and \"interrupted\"; output:\n%s", err, out.String())
	}
	if !os.IsNotExist(dirErr) {
		t.Errorf("the bus directory %s was left behind (%v)", dir, dirErr)
	}
	if !os.IsNotExist(regionErr) {
		t.Errorf("the shared region %s was left behind (%v)", region, regionErr)
	}
}

// TestCommandRefusesArguments: an argument after the flags is refused with
// ErrBadFlag naming it (exit status 1). Before, `game-ai open` (meant as
// --map open) ignored it and every flag after it, ran the rooms map and
// exited 0. The child is given small flags first, so that the command
// without the check finishes quickly.
func TestCommandRefusesArguments(t *testing.T) {
	small := []string{"--grid", "16", "--ticks", "1", "--agents", "0", "--realtime=false"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a map kind without --map", append(small[:len(small):len(small)], "open"), "game-ai: bad flag value: unexpected argument"},
		{"flags after an argument", append(small[:len(small):len(small)], "x", "--ticks", "2"), "game-ai: bad flag value: unexpected argument"},
		// The flag package's own refusals exited with its status 2, the
		// status of a failed comparison.
		{"a value the flag package refuses", append(small[:len(small):len(small)], "--seed=-1"), `invalid value "-1" for flag -seed`},
		{"an unknown flag", append(small[:len(small):len(small)], "--no-such-flag"), "flag provided but not defined: -no-such-flag"},
		// An empty value (an unset variable) was taken as not given:
		// --plot "" drew nothing, exit 0.
		{"an empty --plot", append(small[:len(small):len(small)], "--plot", ""), `game-ai: bad flag value: --plot "": an empty value`},
	} {
		t.Run(tc.name, func(t *testing.T) { gameAI.CheckExitsOne(t, tc.args, tc.want) })
	}
}

// TestPlotRefusedBeforeRun: a --plot the charts cannot be written to (here
// a regular file) is refused before the run with ErrBadFlag naming
// --plot, exit status 1 and nothing on stdout. Before, the whole run went
// first (5 s of ticks and a sweep by default), printed its table, and then
// failed with "mkdir FILE: not a directory", naming no flag. A --plot
// directory not there yet is made (the control: that run writes its
// charts).
func TestPlotRefusedBeforeRun(t *testing.T) {
	small := []string{"--grid", "16", "--ticks", "1", "--agents", "0", "--realtime=false"}
	gameAI.CheckPlotRefusedBeforeRun(t, small, "grid.png")
}

// gameAI is this command for exampletest's checks.
var gameAI = exampletest.Example{Name: "game-ai", Env: runMainEnv}
