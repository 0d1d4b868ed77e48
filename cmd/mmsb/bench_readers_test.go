package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestMain lets this test binary stand in for the mmsb executable when a
// command re-runs itself (bench --readers starts reader processes so) or a
// test runs it as a child process; it does what main does, signal handling
// included, so that such tests see the real binary's behaviour.
func TestMain(m *testing.M) {
	if os.Getenv(cliSelfEnv) == "1" {
		ctx, stop := interruptContext(os.Stderr, os.Exit)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestBenchSharedReaders: bench --shared --readers 2 runs two reader
// processes beside the commit load and reports what each read.
func TestBenchSharedReaders(t *testing.T) {
	dir, shm := filepath.Join(t.TempDir(), "b"), shmDirForTest(t)
	r := runCLI(t, "bench", "--dir", dir, "--shared", "--shm-dir", shm, "--readers", "2",
		"--pages", "256", "--count", "200000", "--sync", "none", "--json").mustCode(t, exitOK)
	var res benchResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if res.Readers != 2 || len(res.ReaderCopiesPerSec) != 2 || len(res.ReaderRetries) != 2 {
		t.Fatalf("readers %d, reports %v %v", res.Readers, res.ReaderCopiesPerSec, res.ReaderRetries)
	}
	for i, c := range res.ReaderCopiesPerSec {
		if !(c > 0) {
			t.Errorf("reader %d reported %v copies/s", i, c)
		}
	}
	if !res.ReplayEqual {
		t.Error("replay differs")
	}
}

// Negative controls: a reader process that cannot attach, or that reports
// no read, fails the bench instead of counting as a reader.
func TestBenchReadersFailLoudly(t *testing.T) {
	ctx := context.Background()
	// No writer runs on this directory: the child cannot attach.
	_, err := startBenchReaders(ctx, 1, t.TempDir(), shmDirForTest(t), 1, 16, 1)
	if err == nil || !strings.Contains(err.Error(), "reader process 0 did not attach") {
		t.Fatalf("a reader that cannot attach: %v", err)
	}
	// A child that reports nothing: "true" exits at once, "cat" copies
	// its empty stdin.
	// A missing one skips, or fails under MMSB_REQUIRE_EXTERNAL=1 (CI),
	// like every test that needs an outside program.
	for _, name := range []string{"true", "cat"} {
		p := newFakeReader(t, testutil.LookPath(t, name))
		if _, err := finishBenchReaders([]*readerProc{p}); err == nil {
			t.Errorf("a reader process running %s passed as a reader", name)
		}
	}
	// A report of zero reads fails too.
	p := newFakeReader(t, "/bin/sh", "-c", `read x; echo '{"copies":0,"seconds":1}'`)
	if err := goBenchReaders([]*readerProc{p}); err != nil {
		t.Fatal(err)
	}
	if _, err := finishBenchReaders([]*readerProc{p}); err == nil || !strings.Contains(err.Error(), "read no page") {
		t.Errorf("a reader reporting no reads: %v", err)
	}
}

// newFakeReader starts a process in place of a reader, with the pipes a
// reader process has.
func newFakeReader(t *testing.T, exe string, args ...string) *readerProc {
	t.Helper()
	p := &readerProc{cmd: exec.Command(exe, args...)}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.out = bufio.NewReader(out)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}
