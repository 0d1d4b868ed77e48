package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/examples/internal/exampletest"
)

// runMainEnv makes the test binary run the command's main with the
// arguments after "--" instead of the tests (TestInterruptCleansUp starts
// it as a separate process, so that it can be sent SIGINT). In that child
// editChecked prints editCheckedLine once, so that the test interrupts a
// run that is inside its edit loop, with its bus open.
const (
	runMainEnv      = "COMPILER_IR_TEST_RUN_MAIN"
	editCheckedLine = "TEST: edit checked"
)

func TestMain(m *testing.M) {
	if exampletest.Child(runMainEnv) {
		var once sync.Once
		editChecked = func() { once.Do(func() { fmt.Println(editCheckedLine) }) }
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestInterruptCleansUp: Ctrl-C (SIGINT) during a run stops it cleanly:
// the command says it was interrupted and exits with status 130, without
// a Go traceback, writes no --plot chart and leaves nothing in its TMPDIR. Before, the signal killed it
// outright (no message, "signal: interrupt"), leaving whatever it was
// writing half-written.
func TestInterruptCleansUp(t *testing.T) {
	plots := filepath.Join(t.TempDir(), "plots")
	tmp := t.TempDir() // the child's TMPDIR (the in-memory bus's checkpoint scratch files)
	cmd := exampletest.Command(runMainEnv, "--funcs", "2000", "--edits", "100000000", "--repeats", "1", "--plot", plots)
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if sc.Text() == editCheckedLine && !signalled {
				signalled = true
				close(ready)
			}
		}
	}()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	select {
	case <-ready:
	case <-copied:
		err := cmd.Wait()
		t.Fatalf("the run ended before its first edit was checked: %v\n%s", err, output())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-copied
		_ = cmd.Wait()
		t.Fatalf("no edit checked after 2 minutes:\n%s", output())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		<-copied // Wait closes the pipe: read it to the end first
		waited <- cmd.Wait()
	}()
	select {
	case err = <-waited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-waited
		t.Fatalf("still running a minute after SIGINT:\n%s", output())
	}
	got := output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.Contains(got, "compiler-ir: interrupted") {
		t.Errorf("after SIGINT: %v, want exit status 130 and \"compiler-ir: interrupted\"; output:\n%s", err, got)
	}
	if strings.Contains(got, "goroutine ") || strings.Contains(got, "panic:") {
		t.Errorf("a Go traceback after SIGINT:\n%s", got)
	}
	if pngs, _ := filepath.Glob(filepath.Join(plots, "*.png")); len(pngs) > 0 {
		t.Errorf("charts written by an interrupted run: %v", pngs)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) > 0 {
		t.Errorf("the interrupted run left temporary files: %v %v", left, err)
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestDumpInterruptedLeavesNoFile: a --dump interrupted before its file is
// complete removes the file and reports the interruption; a dump not
// interrupted leaves a program that parses back (the control).
func TestDumpInterruptedLeavesNoFile(t *testing.T) {
	cfg := defaultConfig()
	cfg.Funcs = 50
	dir := t.TempDir()

	done := filepath.Join(dir, "done.ir")
	if err := dumpProgram(context.Background(), done, cfg); err != nil {
		t.Fatalf("dump: %v", err)
	}
	f, err := os.Open(done)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(f)
	_ = f.Close() // read-only
	if err != nil || len(p.Funcs) != cfg.Funcs {
		t.Fatalf("the dumped program: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cut := filepath.Join(dir, "cut.ir")
	if err := dumpProgram(ctx, cut, cfg); !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted dump: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(cut); !os.IsNotExist(err) {
		t.Errorf("an interrupted dump left %s behind (%v)", cut, err)
	}
	if err := writeCharts(ctx, filepath.Join(dir, "plots"), &report{}); !errors.Is(err, context.Canceled) {
		t.Errorf("charts after an interrupt: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plots")); !os.IsNotExist(err) {
		t.Errorf("charts after an interrupt made their directory (%v)", err)
	}
}

// TestCommandRefusesArguments: an argument after the flags is refused with
// ErrBadFlag naming it (exit status 1). Before, `compiler-ir prog.ir`
// (without --input) ignored it and every flag after it, analysed the
// generated program and exited 0. The child is given small flags first, so
// that the command without the check finishes quickly.
func TestCommandRefusesArguments(t *testing.T) {
	small := []string{"--funcs", "2", "--edits", "1", "--repeats", "1"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a program file without --input", append(small[:len(small):len(small)], "testdata/small.ir"), "compiler-ir: bad flag value: unexpected argument"},
		{"flags after an argument", append(small[:len(small):len(small)], "x", "--funcs", "3"), "compiler-ir: bad flag value: unexpected argument"},
		// The flag package's own refusals exited with its status 2, the
		// status of a failed comparison.
		{"a value the flag package refuses", append(small[:len(small):len(small)], "--seed=x"), `invalid value "x" for flag -seed`},
		{"an unknown flag", append(small[:len(small):len(small)], "--no-such-flag"), "flag provided but not defined: -no-such-flag"},
		// An empty value (an unset variable) was taken as not given:
		// --input "" analysed the generated program, --dump "" ran the
		// sweep instead of writing one, exit 0.
		{"an empty --input", append(small[:len(small):len(small)], "--input", ""), `compiler-ir: bad flag value: --input "": an empty value`},
		{"an empty --dump", append(small[:len(small):len(small)], "--dump="), `compiler-ir: bad flag value: --dump "": an empty value`},
		{"an empty --plot", append(small[:len(small):len(small)], "--plot", ""), `compiler-ir: bad flag value: --plot "": an empty value`},
	} {
		t.Run(tc.name, func(t *testing.T) { compilerIR.CheckExitsOne(t, tc.args, tc.want) })
	}
}

// TestDumpRefusesInput: --dump writes the generated program, so --dump
// with --input is refused with ErrBadFlag naming both, and writes nothing.
// Before, it wrote a generated program of --funcs (5,000) functions in
// place of the input and exited 0. Without --input (the control) the dump
// is written.
func TestDumpRefusesInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input string
	}{
		{"with --input", "testdata/small.ir"},
		{"without --input", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.Funcs, cfg.Input = 5, tc.input
			out := filepath.Join(t.TempDir(), "out.ir")
			err := dumpProgram(context.Background(), out, cfg)
			_, statErr := os.Stat(out)
			if tc.input == "" {
				if err != nil || statErr != nil {
					t.Fatalf("dump: %v (stat: %v), want the program written", err, statErr)
				}
				return
			}
			if !errors.Is(err, ErrBadFlag) || !strings.Contains(err.Error(), "--dump") || !strings.Contains(err.Error(), "--input") {
				t.Fatalf("dump with --input: %v, want ErrBadFlag naming --dump and --input", err)
			}
			if !os.IsNotExist(statErr) {
				t.Fatalf("the refused dump wrote %s (stat: %v)", out, statErr)
			}
		})
	}
}

// TestPlotRefusedBeforeRun: a --plot the charts cannot be written to (here
// a regular file) is refused before the run with ErrBadFlag naming
// --plot, exit status 1 and nothing on stdout. Before, the whole run went
// first (about 10 s by default), printed its table, and then failed with
// "mkdir FILE: not a directory", naming no flag. A --plot directory not
// there yet is made (the control: that run writes its chart).
func TestPlotRefusedBeforeRun(t *testing.T) {
	small := []string{"--funcs", "20", "--edits", "1", "--repeats", "1"}
	compilerIR.CheckPlotRefusedBeforeRun(t, small, "latency_vs_fraction.png")
}

// compilerIR is this command for exampletest's checks: each run gets a
// TMPDIR of its own (the in-memory bus's checkpoint scratch files).
var compilerIR = exampletest.Example{Name: "compiler-ir", Env: runMainEnv, OwnTMPDIR: true}
