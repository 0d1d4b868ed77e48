// Package pythonwriter_test runs examples/python-writer/writer.py on
// buses the README's plain run does not cover (bindings/c's TestExamples
// runs that one and compares its state hash with mmsb inspect). It builds
// libmmsb.so with the documented command and needs gcc and Debian's
// python3 with numpy; without them it is skipped.
package pythonwriter_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// library builds libmmsb.so into a temporary directory, or reports what is
// missing (testutil.Missing: a skip, or a failure in CI).
func library(t *testing.T) (py, lib string) {
	t.Helper()
	py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		testutil.Missing(t, "%s with numpy is needed to run writer.py: %v %s", py, err, out)
	}
	testutil.LookPath(t, "gcc") // to build libmmsb.so
	goTool := testutil.LookPath(t, "go")
	lib = filepath.Join(t.TempDir(), "libmmsb.so")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", lib, "./bindings/c")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=c-shared: %v\n%s", err, out)
	}
	return py, lib
}

// TestWriterAfterInterruptedFirstRun: a first run stopped between creating
// the 64 row pages and its first commit leaves a bus whose grid is all
// zeros; run again, writer.py has no cell to change and must still report
// (it used to fail with UnboundLocalError on the batch it never committed).
func TestWriterAfterInterruptedFirstRun(t *testing.T) {
	py, lib := library(t)
	dir := filepath.Join(t.TempDir(), "heat")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	specs := make([]mmsb.PageSpec, 64)
	for i := range specs {
		specs[i].Size = 256 * 8
	}
	if _, err := bus.CreatePages(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "writer.py", dir)
	cmd.Env = append(os.Environ(), "MMSB_LIB="+lib, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 writes in the last step, replay equal: True") ||
		!strings.Contains(string(out), "state hash") {
		t.Fatalf("writer.py on a bus of zero rows: %v, want a report of 0 writes and replay equal; output:\n%s", err, out)
	}
}
