package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// TestStallTraceNotReplacingWhatTheBenchMade: bench --stall-trace was
// checked only before the run and written with os.Create at the first
// stall, which truncated whatever the path held by then (a segment or
// checkpoint the bench's own bus made there while it ran). It now shares
// --cpuprofile's one way (renameOutput): written beside the path and
// renamed over it only if the path still holds nothing or an earlier
// trace; otherwise the file stays as it was, the error says so, and the
// trace is kept under its temporary name. A path that holds nothing gets
// the trace.
func TestStallTraceNotReplacingWhatTheBenchMade(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "00000000000000000002.log")
	s, err := startStallRecorder(path, time.Hour)
	if err != nil {
		t.Skipf("no flight recorder in this test process: %v", err) // go test -trace holds the tracer
	}
	made := []byte("MMSB segment the bench's bus wrote")
	if err := os.WriteFile(path, made, 0o644); err != nil {
		_, _ = s.stop()
		t.Fatal(err)
	}
	s.write()
	wrote, err := s.stop()
	if wrote || !errors.Is(err, errNotAProfile) || !strings.Contains(err.Error(), "--stall-trace "+path) {
		t.Errorf("stop: wrote %v, %v; want errNotAProfile naming --stall-trace %s", wrote, err, path)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, made) {
		t.Errorf("%s was replaced by the trace (%d bytes)", path, len(b))
	}
	tmps, _ := filepath.Glob(filepath.Join(dir, ".00000000000000000002.log.tmp-*"))
	if len(tmps) != 1 || err == nil || !strings.Contains(err.Error(), tmps[0]) {
		t.Errorf("the trace was not kept and named: files %q, error %v", tmps, err)
	}

	// A new path gets the trace, and nothing is left beside it.
	fresh := filepath.Join(t.TempDir(), "stall.trace")
	s, err = startStallRecorder(fresh, time.Hour)
	if err != nil {
		t.Skipf("no flight recorder in this test process: %v", err)
	}
	s.write()
	if wrote, err := s.stop(); !wrote || err != nil {
		t.Fatalf("stop: wrote %v, %v", wrote, err)
	}
	b, _ := os.ReadFile(fresh)
	if !bytes.HasPrefix(b, traceMagic) {
		t.Errorf("%s holds no trace: %q", fresh, b[:min(len(b), 16)])
	}
	if entries, _ := os.ReadDir(filepath.Dir(fresh)); len(entries) != 1 {
		t.Errorf("files beside the trace: %v", entries)
	}
}

// TestOutputUnreadableRefused: an existing --cpuprofile (or bench
// --stall-trace) file that cannot be read cannot be told to be an
// earlier profile, and was replaced by the profile all the same. It is
// now refused before the command runs (--cpuprofile: exit 1, as every
// refused --cpuprofile; --stall-trace: a usage error), naming the path
// and why, and left as it was. As root no file is unreadable, so the
// open fails through openToCheck; as another user a mode-000 file is
// refused too.
func TestOutputUnreadableRefused(t *testing.T) {
	tb := newTestBus(t)
	path := filepath.Join(t.TempDir(), "secret")
	data := []byte("another user's file")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	openToCheck = func(name string) (*os.File, error) {
		if name == path {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
		}
		return os.Open(name)
	}
	t.Cleanup(func() { openToCheck = os.Open })

	r := runCLI(t, "--cpuprofile", path, "check", tb.dir).mustCode(t, exitFailure)
	want := "--cpuprofile " + path + ": exists and is not an earlier output of this flag: it cannot be read"
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "permission denied") || r.stdout != "" {
		t.Errorf("stderr %q (stdout %q), want %q and why", r.stderr, r.stdout, want)
	}
	r = runCLI(t, "bench", "--no-progress", "--pages", "8", "--count", "16", "--stall-trace", path).mustCode(t, exitUsage)
	if !strings.Contains(r.stderr, "--stall-trace "+path+": exists and is not an earlier output of this flag: it cannot be read") {
		t.Errorf("--stall-trace: stderr %q, want it refused as unreadable", r.stderr)
	}
	if b, _ := os.ReadFile(path); !slices.Equal(b, data) {
		t.Errorf("%s was replaced (%q)", path, b)
	}

	// A real unreadable file, where this user cannot read one.
	openToCheck = os.Open
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(path); err == nil {
		_ = f.Close()
		return // root reads it: covered above
	}
	if err := checkProfileReplaceable(path); !errors.Is(err, errNotAProfile) {
		t.Errorf("mode 000 %s: %v, want errNotAProfile", path, err)
	}
}

// TestOutputLongName: an output path whose name is near the 255-byte
// limit left no room in its temporary file's name (".NAME.tmp-RANDOM"),
// so bench --stall-trace, which os.Create had written to such a path,
// failed at the stall after the whole run with "file name too long". The
// temporary name now holds only the start of NAME, cut at a character's
// start, and the trace is written.
func TestOutputLongName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a"+strings.Repeat("é", 120)) // 241 bytes
	f, err := createOutputTemp(path)
	if err != nil {
		t.Fatalf("createOutputTemp: %v", err)
	}
	name := filepath.Base(f.Name())
	_ = f.Close()
	_ = os.Remove(f.Name())
	if !utf8.ValidString(name) || !strings.HasPrefix(name, ".a") {
		t.Errorf("temporary name %q: want valid UTF-8 beginning as the output's", name)
	}
	s, err := startStallRecorder(path, time.Hour)
	if err != nil {
		t.Skipf("no flight recorder in this test process: %v", err)
	}
	s.write()
	if wrote, err := s.stop(); !wrote || err != nil {
		t.Fatalf("stop: wrote %v, %v", wrote, err)
	}
	if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, traceMagic) {
		t.Errorf("%s holds no trace", path)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files beside the trace: %v", entries)
	}
}
