package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestRunRejectsBadFlags guards the writer's flags: -pages below 1 or too
// large and -every not positive are refused with errBadFlag naming the
// flag, before a bus is opened. Before, -pages -1 panicked (makeslice),
// -pages 0 created an empty bus and then failed on an empty batch, and
// -every 0 committed in a busy loop.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pages   int
		every   time.Duration
		mention string
	}{
		{"negative pages", -1, time.Millisecond, "-pages"},
		{"zero pages", 0, time.Millisecond, "-pages"},
		{"huge pages", 1 << 30, time.Millisecond, "-pages"},
		{"zero every", 4, 0, "-every"},
		{"negative every", 4, -time.Second, "-every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- run(context.Background(), io.Discard, t.TempDir(), tc.pages, tc.every) }()
			select {
			case err := <-done:
				if !errors.Is(err, errBadFlag) || !strings.Contains(err.Error(), tc.mention) {
					t.Fatalf("got %v, want errBadFlag mentioning %s", err, tc.mention)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("run kept running: the flag was accepted")
			}
		})
	}
}

// TestFlagsRefuseArguments: an argument that is no flag is refused with
// errBadFlag naming it. Before, `writer /tmp/x` (meant as -dir /tmp/x)
// ignored it and every flag after it and wrote to the default directory.
func TestFlagsRefuseArguments(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // "" for none
		want    flags
	}{
		{"no arguments", nil, "", flags{"/tmp/mmsb-python-demo", 4, 100 * time.Millisecond}},
		{"every flag", []string{"-dir", "/tmp/x", "-pages", "2", "-every", "1s"}, "", flags{"/tmp/x", 2, time.Second}},
		{"a directory without -dir", []string{"/tmp/x"}, `unexpected argument "/tmp/x"`, flags{}},
		{"flags after an argument", []string{"-pages", "2", "x", "-dir", "/tmp/x"}, `unexpected argument "x"`, flags{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("writer", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			got, err := parseFlags(fs, tc.args)
			if tc.wantErr != "" {
				if !errors.Is(err, errBadFlag) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags(%q) = %v, want errBadFlag with %s", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseFlags(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
			}
		})
	}
}

// TestRunRefusesOtherBus: a -dir holding a bus whose pages are not 1 KiB
// signals is refused with errOtherBus naming the page, before any commit.
// Before, larger pages (python-writer's heat grid of 2 KiB rows) had their
// first 1 KiB overwritten with signals, and smaller ones failed mid-run.
// 1 KiB pages without the writer's mark are refused too (cpp-writer's
// counters: TestRunLeavesOtherProgramsPagesAlone). The bus of 1 KiB pages
// marked as the writer marks its own is the control: it is reused.
func TestRunRefusesOtherBus(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		meta    []mmsb.MetaEntry
		wantErr error
		mention string
	}{
		{"heat grid rows", 2048, nil, errOtherBus, "page 1 is 2048 bytes, want 1024"},
		{"small pages", 16, nil, errOtherBus, "page 1 is 16 bytes"},
		{"unmarked 1 KiB pages", 1024, nil, errOtherBus, `page 1 has no metadata example="python-reader signal"`},
		{"marked by another program", 1024, []mmsb.MetaEntry{{Key: exampleMetaKey, Value: []byte("counters")}}, errOtherBus, "page 1 has no metadata"},
		{"signals", 1024, signalMeta, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: tc.size, Meta: tc.meta}, {Size: tc.size, Meta: tc.meta}}); err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // no commit: run opens the bus, checks it and closes it
			err = run(ctx, io.Discard, dir, 4, time.Millisecond)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("run on a bus of 1 KiB pages: %v, want it reused", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("run on a bus of %d-byte pages: %v, want %v mentioning %q", tc.size, err, tc.wantErr, tc.mention)
			}
		})
	}
}

// TestRunLeavesOtherProgramsPagesAlone: a bus of another program with
// exactly the writer's page size (cpp-writer's counters: pages 1..8 of
// 1 KiB) is refused before any commit and keeps its bytes, while a bus
// the writer made itself is reused by the next run (the control). Before,
// the writer took any 1 KiB pages for its signals and wrote float64
// samples over the counters; cpp-writer then summed them as integers.
func TestRunLeavesOtherProgramsPagesAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]mmsb.PageSpec, 8)
	for i := range specs {
		specs[i].Size = pageBytes
	}
	ids, err := bus.CreatePages(ctx, specs)
	if err != nil {
		t.Fatal(err)
	}
	counters := make([]byte, pageBytes)
	for i := range counters {
		counters[i] = byte(i % 7)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, counters)}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}

	// A live run (not a cancelled context): it would commit every
	// millisecond until the deadline if it took the bus.
	runCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = run(runCtx, io.Discard, dir, 4, time.Millisecond)
	cancel()
	if !errors.Is(err, errOtherBus) {
		t.Errorf("run on a bus of 8 unmarked 1 KiB pages: %v, want %v", err, errOtherBus)
	}
	bus, err = mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := bus.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(counters) {
		t.Fatalf("page %d after the refused run: bytes % x..., want the other program's % x... (overwritten)", ids[0], got[:8], counters[:8])
	}

	// Control: the writer's own bus, made by a first run, is taken again.
	own := t.TempDir()
	for i := range 2 {
		runCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := run(runCtx, io.Discard, own, 2, time.Millisecond)
		cancel()
		if err != nil {
			t.Fatalf("run %d on the writer's own bus: %v, want it reused", i+1, err)
		}
	}
}

// mainEnv makes the test binary run main instead of the tests
// (TestBadFlagsExitOne runs it as the writer).
const mainEnv = "MMSB_PYTHON_READER_WRITER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// exitStatus runs cmd to its end and returns its exit status and its
// output (stdout and stderr together); a command that could not be run
// fails the test (one killed by a signal has status -1).
func exitStatus(t *testing.T, cmd *exec.Cmd) (int, []byte) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out
}

// TestBadFlagsExitOne: the writer exits with status 1 for any flag it
// cannot use, as the other examples do (examples/*/README.md), and 0 for
// -h. Before, an unknown flag or a value the flag package could not parse
// exited 2 (flag.CommandLine's ExitOnError), the status game-ai and
// compiler-ir keep for a failed check. No case reaches the bus.
func TestBadFlagsExitOne(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		mention string
	}{
		{"unknown flag", []string{"-bogus"}, 1, "flag provided but not defined: -bogus"},
		{"pages not a number", []string{"-pages", "x"}, 1, `invalid value "x" for flag -pages`},
		{"every not a duration", []string{"-every", "soon"}, 1, `invalid value "soon" for flag -every`},
		{"an argument", []string{"/tmp/x"}, 1, `unexpected argument "/tmp/x"`},
		{"help", []string{"-h"}, 0, "-every"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), mainEnv+"=1")
			code, out := exitStatus(t, cmd)
			if code != tc.code || !strings.Contains(string(out), tc.mention) {
				t.Fatalf("writer %s: exit status %d, output:\n%s\nwant status %d mentioning %q", strings.Join(tc.args, " "), code, out, tc.code, tc.mention)
			}
		})
	}
}
