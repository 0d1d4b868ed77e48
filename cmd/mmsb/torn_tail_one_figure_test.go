package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestTornTailSaidWithOneFigure: `mmsb check` and `mmsb checkpoint` of
// one torn tail (the last record cut after its frame header) say the
// same number of bytes, counted from the record's start: the bytes
// recovery cuts. check counted from after the 20-byte frame header.
func TestTornTailSaidWithOneFigure(t *testing.T) {
	tb := newTestBus(t)
	segs := segmentFiles(t, tb.dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-3); err != nil { // the last record's payload cut
		t.Fatal(err)
	}
	check := runCLI(t, "check", tb.dir).mustCode(t, exitFailure)
	cp := runCLI(t, "checkpoint", tb.dir).mustCode(t, exitOK)
	m := regexp.MustCompile(`torn tail of (\d+) bytes`).FindStringSubmatch(cp.stderr)
	if m == nil {
		t.Fatalf("checkpoint does not say the torn tail's bytes:\n%s", cp.stderr)
	}
	if want := "(" + m[1] + " bytes left from the record's start)"; !strings.Contains(check.stdout, want) {
		t.Fatalf("check does not say %q, the %s bytes checkpoint cut:\n%s", want, m[1], check.stdout)
	}
}
