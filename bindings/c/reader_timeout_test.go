package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCReaderLargestTimeouts runs test/reader_timeout_test.c: a reader of
// mmsb_reader.h opened with timeouts of INT64_MAX, and waiting that long
// for a commit, gets the commit. The deadlines were now + timeout, a
// signed overflow: the sanitized build aborted ("runtime error: signed
// integer overflow: 9223372036854775807 + ... cannot be represented in
// type 'long int'"), and an unsanitized build was free to return TIMEOUT
// at once. Its negative control waits 1 ms for a commit that never comes:
// the program must report the timeout as a failure.
func TestCReaderLargestTimeouts(t *testing.T) {
	if _, err := os.Stat(mmsb.DefaultSharedDir); err != nil {
		testutil.Missing(t, "the reader needs a shared region in %s: %v", mmsb.DefaultSharedDir, err)
	}
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	src := filepath.Join("test", "reader_timeout_test.c")
	runBuilds(t, "gcc", src, lib, nil, nil)
	t.Run("negative control", func(t *testing.T) {
		out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2"}, "READER_TIMEOUT_NS=1000000", "READER_TIMEOUT_COMMIT=0")
		if err == nil {
			t.Fatalf("a wait that timed out passed:\n%s", out)
		}
		if !strings.Contains(out, "expected rc == MMSB_READER_OK") {
			t.Errorf("the control failed for another reason than the timeout: %v\n%s", err, out)
		}
	})
}
