package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// cliResult is the outcome of one in-process command line.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the mmsb command line args in-process, as main would.
func runCLI(t testing.TB, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	// A command that waits for ever (a watch --count that missed the
	// change it waits for) is interrupted, as Ctrl-C would, and the test
	// fails: a guard against a hang, not a bound (it is five times the
	// usual one, for the commands that do real work under -race).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guard := time.AfterFunc(5*testutil.HangGuard, cancel)
	code := run(ctx, args, &out, &errb)
	if !guard.Stop() {
		t.Errorf("mmsb %v still running after %v (a guard against a hang): interrupted\nstderr:\n%s", args, 5*testutil.HangGuard, errb.String())
	}
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustCode fails the test unless the command exited with want.
func (r cliResult) mustCode(t testing.TB, want int) cliResult {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	return r
}

// decodeJSON parses the command's stdout as exactly one JSON object.
func (r cliResult) decodeJSON(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", r.stdout)
	}
}

// testBus describes the bus built by newTestBus.
type testBus struct {
	dir       string
	midLSN    mmsb.LSN // LSN after the first round of writes
	midHash   uint64   // state hash at midLSN
	lastLSN   mmsb.LSN
	finalHash uint64
}

// hashOf returns bus's state hash, failing the test if it cannot.
func hashOf(t testing.TB, bus *mmsb.Bus) uint64 {
	t.Helper()
	h, err := bus.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newTestBus builds a small bus in a temporary directory and closes it:
// five 64-byte pages, a control edge 1->2, page 3 derived from 2
// (passthrough), a gpu-sync edge 3->4, a checkpoint between two rounds of
// writes, so that the directory holds a segment and a checkpoint.
func newTestBus(t testing.TB) testBus {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	specs := make([]mmsb.PageSpec, 5)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64}
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(bus.AddEdge(ctx, ids[0], ids[1], mmsb.EdgeControl))
	must(bus.Bind(ctx, ids[2], "passthrough", nil, []mmsb.PageID{ids[1]}))
	must(bus.AddEdge(ctx, ids[2], ids[3], mmsb.EdgeGPUSync))
	write := func(round int) {
		for i, id := range []mmsb.PageID{ids[0], ids[1], ids[3], ids[4]} {
			_, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(8*round), []byte{byte(round), byte(i), 0xAA, 0x55})})
			must(err)
		}
	}
	tb := testBus{dir: dir}
	for round := 0; round < 3; round++ {
		write(round)
	}
	tb.midLSN, tb.midHash = bus.LastLSN(), hashOf(t, bus)
	_, err = bus.Checkpoint(ctx)
	must(err)
	for round := 3; round < 6; round++ {
		write(round)
	}
	tb.lastLSN, tb.finalHash = bus.LastLSN(), hashOf(t, bus)
	return tb
}

func TestRootHelpAndUsage(t *testing.T) {
	for _, cmd := range []string{"bench", "check", "inspect", "replay", "checkpoint", "graph"} {
		t.Run(cmd, func(t *testing.T) {
			r := runCLI(t, cmd, "--help").mustCode(t, exitOK)
			for _, want := range []string{"Usage:", "Examples:", "mmsb " + cmd} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("%s --help lacks %q:\n%s", cmd, want, r.stdout)
				}
			}
		})
	}
	r := runCLI(t, "--help").mustCode(t, exitOK)
	if !strings.Contains(r.stdout, "Exit status") {
		t.Errorf("root help does not document exit statuses:\n%s", r.stdout)
	}
}

// TestCPUProfile runs a command twice with --cpuprofile: each run writes a
// gzip-compressed profile, and the second can start one at all only if
// the first stopped its own (Go allows one CPU profile at a time).
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	for i := range 2 {
		path := filepath.Join(dir, fmt.Sprintf("cpu%d.prof", i))
		runCLI(t, "--cpuprofile", path, "bench", "--pages", "64", "--count", "20000").mustCode(t, exitOK)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Fatalf("run %d: %s is not a gzip-compressed profile (%d bytes)", i, path, len(b))
		}
	}
}

func TestRootBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	notData := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
		// No command at all printed the help on stdout and exited 0.
		{"no command", nil, exitUsage, "no command given"},
		{"no command, usage on stderr", []string{"--no-progress"}, exitUsage, "Available Commands"},
		{"unknown flag", []string{"check", "--frob", "x"}, exitUsage, "unknown flag"},
		{"no dir", []string{"check"}, exitUsage, "exactly one data directory"},
		{"two dirs", []string{"inspect", "a", "b"}, exitUsage, "exactly one data directory"},
		{"bad flag value", []string{"bench", "--pages", "lots"}, exitUsage, "--pages"},
		{"missing dir", []string{"inspect", missing}, exitFailure, "not an MMSB data directory"},
		{"not a data dir", []string{"graph", notData}, exitFailure, "is empty: no bus yet"},
		{"checkpoint creates nothing", []string{"checkpoint", missing}, exitFailure, "not an MMSB data directory"},
		{"profile in a missing dir", []string{"--cpuprofile", filepath.Join(missing, "cpu.prof"), "graph", notData}, exitFailure, "--cpuprofile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, tc.code)
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.stderr)
			}
			if r.stdout != "" {
				t.Errorf("failed command wrote to stdout: %q", r.stdout)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("a failed command created %s (stat: %v)", missing, err)
	}
}

func TestHumanFormats(t *testing.T) {
	bytesCases := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}}
	for _, c := range bytesCases {
		if got := humanBytes(c.n); got != c.want {
			t.Errorf("humanBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
	countCases := []struct {
		v    float64
		want string
	}{{12, "12"}, {1500, "1.5k"}, {2_500_000, "2.50M"}, {3e9, "3.00G"}}
	for _, c := range countCases {
		if got := humanCount(c.v); got != c.want {
			t.Errorf("humanCount(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	flagCases := []struct {
		f    uint8
		want string
	}{{0, "-"}, {mmsb.FlagStale, "stale"}, {mmsb.FlagStale | mmsb.FlagIRInvalid, "stale,ir-invalid"}, {0x80 | mmsb.FlagSyncPending, "sync-pending,0x80"}}
	for _, c := range flagCases {
		if got := flagNames(c.f); got != c.want {
			t.Errorf("flagNames(%#x) = %q, want %q", c.f, got, c.want)
		}
	}
}

func TestProgressOffWhenNotTerminal(t *testing.T) {
	a := &app{stderr: &bytes.Buffer{}, terminal: false}
	p := a.progress(10, "x", "units")
	p.add(5)
	p.finish()
	p.finish() // idempotent
	if p.bar != nil {
		t.Fatal("a progress bar was drawn on a non-terminal")
	}
	if a.stderr.(*bytes.Buffer).Len() != 0 {
		t.Fatal("progress wrote to a non-terminal stderr")
	}
	buf := &testutil.SyncBuffer{}
	a = &app{stderr: buf, terminal: true}
	p = a.progress(10, "x", "units")
	p.add(3)
	deadline := time.Now().Add(10 * time.Second)
	for buf.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.add(7)
	p.finish()
	if buf.Len() == 0 {
		t.Fatal("no progress drawn on a terminal")
	}
	// --no-progress wins over a terminal.
	buf = &testutil.SyncBuffer{}
	a = &app{stderr: buf, terminal: true, noProgress: true}
	if p := a.progress(10, "x", "units"); p.bar != nil {
		t.Fatal("--no-progress drew a bar")
	}
}

// The hook validate.go uses: a registered command runs like the built-ins
// and its exitError sets the status.
func TestRegisterCommand(t *testing.T) {
	saved := extraCommands
	t.Cleanup(func() { extraCommands = saved })
	registerCommand(func(a *app) *cobra.Command {
		return &cobra.Command{Use: "fake", Short: "a registered command", Args: cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				fmt.Fprintln(a.stdout, "ran")
				return &exitError{code: exitFailure, msg: "1 check failed"}
			}}
	})
	r := runCLI(t, "fake").mustCode(t, exitFailure)
	if r.stdout != "ran\n" || r.stderr != "mmsb fake: 1 check failed\n" {
		t.Fatalf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := runCLI(t, "--help"); !strings.Contains(r.stdout, "a registered command") {
		t.Fatalf("registered command missing from help:\n%s", r.stdout)
	}
}
