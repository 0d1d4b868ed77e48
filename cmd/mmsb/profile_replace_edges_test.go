package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"
)

// TestOutputReplaceEdges: what --cpuprofile and bench --stall-trace may
// replace (checkReplaceable), at its edges. A real earlier stall trace
// (what the flight recorder writes) is accepted, so the header the check
// looks for is the one the recorder writes; an empty file is refused (a
// bus's LOCK is empty); a symbolic link to a log segment is refused
// (os.Create, which wrote the stall trace until 2026-12-07, followed it
// and truncated the segment); a path that does not exist is left to the
// command.
func TestOutputReplaceEdges(t *testing.T) {
	dir := t.TempDir()

	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{})
	if err := fr.Start(); err != nil {
		t.Skipf("no flight recorder in this test process: %v", err) // go test -trace holds the tracer
	}
	var buf bytes.Buffer
	_, err := fr.WriteTo(&buf)
	fr.Stop()
	if err != nil {
		t.Fatal(err)
	}
	earlier := filepath.Join(dir, "stall.trace")
	if err := os.WriteFile(earlier, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkReplaceable(earlier, traceMagic, "Go execution trace header"); err != nil {
		t.Errorf("an earlier stall trace (%q...) refused: %v", buf.Bytes()[:min(buf.Len(), 16)], err)
	}

	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tb := newTestBus(t)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(tb.dir, "wal", "00000000000000000001.log"), link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{empty, link} {
		if err := checkReplaceable(path, traceMagic, "Go execution trace header"); !errors.Is(err, errNotAProfile) {
			t.Errorf("--stall-trace %s: %v, want errNotAProfile", path, err)
		}
		if err := checkProfileReplaceable(path); !errors.Is(err, errNotAProfile) {
			t.Errorf("--cpuprofile %s: %v, want errNotAProfile", path, err)
		}
	}
	if err := checkProfileReplaceable(filepath.Join(dir, "new.pprof")); err != nil {
		t.Errorf("a new file refused: %v", err)
	}
}

// TestCPUProfileNotReplacingWhatTheCommandMade: --cpuprofile is checked
// before the command runs, but a file the command itself makes at that
// path while it runs (a bus's next segment or checkpoint, named ahead)
// was replaced by the rename at the end all the same. stopProfile checks
// again: the file stays as the command left it, the error says so, and
// the profile is kept under its temporary name.
func TestCPUProfileNotReplacingWhatTheCommandMade(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "00000000000000000002.log")
	var stderr bytes.Buffer
	a := &app{stderr: &stderr, cpuProfile: path}
	if err := a.startProfile(); err != nil {
		t.Skipf("no CPU profile in this test process: %v", err) // go test -cpuprofile holds the profiler
	}
	made := []byte("MMSB segment the command wrote")
	if err := os.WriteFile(path, made, 0o644); err != nil {
		_ = a.stopProfile(false)
		t.Fatal(err)
	}
	err := a.stopProfile(true)
	if !errors.Is(err, errNotAProfile) {
		t.Errorf("stopProfile: %v, want errNotAProfile", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, made) {
		t.Errorf("%s was replaced by the profile (%d bytes)", path, len(b))
	}
	// The profile is kept, named in the error.
	tmps, _ := filepath.Glob(filepath.Join(dir, ".00000000000000000002.log.tmp-*"))
	if len(tmps) != 1 || err == nil || !strings.Contains(err.Error(), tmps[0]) {
		t.Errorf("the profile was not kept and named: files %q, error %v", tmps, err)
	}
}
