package main

import (
	"context"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestWatchWithoutSharedWriterSaysHow: watch beside a writer that runs
// without shared memory (what "mmsb serve --dir DIR" starts) fails, as it
// must, and its error says what watch needs. It said only "shared-memory
// writer gone: no shared region for DIR (no writer runs with
// Options.Shared)", which a user who had just started that writer could
// not act on.
func TestWatchWithoutSharedWriterSaysHow(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, nil) // a plain writer: no region
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "watch", dir, "--count", "1", "--shm-dir", shm).mustCode(t, exitFailure)
	if r.stdout != "" {
		t.Errorf("a failed watch printed on stdout:\n%s", r.stdout)
	}
	for _, want := range []string{"shared-memory writer gone", "serve --dir " + dir + " --shared"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
