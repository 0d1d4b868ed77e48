package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCRecordTooLarge runs test/record_limit_test.c: a C program's commit
// of a batch over the log's record limit (tlog.MaxRecordBytes, 256 MiB;
// no Option lowers it) gets MMSB_ERR_RECORD_TOO_LARGE, synchronously and
// asynchronously, and the bus stays usable: the state and LSN are
// unchanged, a following small commit succeeds, and a reopen finds every
// committed write. Its negative control commits a batch under the limit
// (RECORD_LIMIT_WRITES=2), which the program must report as a failure.
//
// Not sanitized (ASan's shadow of the library's 256 MiB encoding buffer
// would double the test's memory), and skipped on 32-bit platforms, as
// the Go side's TestRecordOverLogLimitRefused is: a record over the limit
// needs more address space than such a process can spare.
func TestCRecordTooLarge(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("a record over the 256 MiB limit needs more of a 32-bit address space than the C program can spare; the 64-bit run covers it")
	}
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	src := filepath.Join("test", "record_limit_test.c")
	out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Run("negative control", func(t *testing.T) {
		out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2"}, "RECORD_LIMIT_WRITES=2")
		if err == nil {
			t.Fatalf("a batch under the record limit passed as refused:\n%s", out)
		}
		if !strings.Contains(out, "want MMSB_ERR_RECORD_TOO_LARGE") {
			t.Errorf("the control failed for another reason than the commit's status: %v\n%s", err, out)
		}
	})
}
