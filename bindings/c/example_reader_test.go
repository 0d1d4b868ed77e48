package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCPPReaderExampleErrors builds examples/cpp/reader.cpp as its README
// says (no libmmsb: the reader has no Go) and runs it on a bus whose
// region directory is writable by everyone, which the reader refuses
// (mmsb::shared_corrupt). It must print one line and exit with status 1.
// Before, the exception escaped main: std::terminate aborted the program
// (status 134, "terminate called after throwing an instance of
// 'mmsb::shared_corrupt'"); so did writer_gone after its 5 s of retries
// and stale after a writer restart.
func TestCPPReaderExampleErrors(t *testing.T) {
	lookPath(t, "g++")
	if st, err := os.Stat(mmsb.DefaultSharedDir); err != nil || !st.IsDir() {
		testutil.Missing(t, "no %s: the example reads regions there", mmsb.DefaultSharedDir)
	}
	exe := filepath.Join(t.TempDir(), "cpp-reader")
	src := filepath.Join(repoRoot, "examples", "cpp", "reader.cpp")
	args := []string{"-std=c++20", "-O2", "-Wall", "-Werror", "-I.", "-I" + filepath.Join("..", "cpp"), "-o", exe, src}
	if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
		t.Fatalf("g++ %v: %v\n%s", args, err, out)
	}
	bus := t.TempDir()
	region, err := mmsb.SharedRegionPath(bus, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(region, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(region) })
	if err := os.Chmod(region, 0o777); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, bus).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("reader on a region writable by everyone: %v, want exit status 1\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); strings.Count(got, "\n") != 0 ||
		!strings.HasPrefix(got, "reader: mmsb: malformed shared region: "+region) {
		t.Fatalf("reader printed:\n%s\nwant one line \"reader: mmsb: malformed shared region: %s ...\"", out, region)
	}
}
