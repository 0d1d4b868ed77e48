package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
)

// TestErrorsQuoteEdgeSpacedPaths: a path that begins or ends with a space
// is quoted where an error names it, as one holding a newline is
// (TestErrorsQuoteOddUserPaths): `mmsb check 'bus1 '` said `not an MMSB
// data directory: bus1 : no such file or directory`, the space that made
// the path wrong invisible. A space inside a path leaves it unquoted.
func TestErrorsQuoteEdgeSpacedPaths(t *testing.T) {
	base := t.TempDir()
	for _, tc := range []struct {
		name   string
		quoted bool
	}{
		{"bus1 ", true},
		{" bus1", true},
		{"bus 1", false},
	} {
		path := filepath.Join(base, tc.name)
		for _, cmd := range []string{"check", "inspect", "graph"} {
			r := runCLI(t, cmd, path)
			if r.code == exitOK {
				t.Fatalf("mmsb %s %q: exit 0, want an error", cmd, path)
			}
			want := path + ":"
			if tc.quoted {
				want = strconv.Quote(path) + ":"
			}
			if first, _, _ := strings.Cut(r.stderr, "\n"); !strings.Contains(first, "not an MMSB data directory: "+want) {
				t.Errorf("mmsb %s %q: stderr %q, want the path said as %s", cmd, path, r.stderr, want)
			}
		}
	}
}

// TestMissingDataDirSaysTypoFirst: a data directory that does not exist is
// said so, then a typo is named first: the explanation began with "a
// first Open that stopped before taking its lock leaves this", which does
// not fit the mistyped path that gives this refusal most often. An empty
// directory, what that first Open does leave, keeps its own explanation.
func TestMissingDataDirSaysTypoFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "bus1")
	r := runCLI(t, "check", missing).mustCode(t, exitFailure)
	want := "not an MMSB data directory: " + missing + ": no such file or directory: no bus yet (the path does not exist: check it for a typo;"
	if !strings.Contains(r.stderr, want) {
		t.Errorf("check of a missing directory: stderr %q, want %q", r.stderr, want)
	}
	empty := t.TempDir()
	r = runCLI(t, "check", empty).mustCode(t, exitFailure)
	if want := "is empty: no bus yet (a first Open that stopped before taking its lock leaves this"; !strings.Contains(r.stderr, want) {
		t.Errorf("check of an empty directory: stderr %q, want %q", r.stderr, want)
	}
}

// TestInspectCheckHintQuotesDir: inspect's "directory" line and its note
// of a checkpoint that does not verify say the directory as the errors
// say it (termText): they printed the path raw, so that `data ` read
// as `data` and a command copied from it checked another directory.
func TestInspectCheckHintQuotesDir(t *testing.T) {
	tb := newTestBus(t)
	dir := tb.dir + " "
	if err := os.Rename(tb.dir, dir); err != nil {
		t.Fatal(err)
	}
	list, err := checkpoint.List(nil, filepath.Join(dir, "checkpoints"))
	if err != nil || len(list) != 1 {
		t.Fatalf("checkpoints %v (%v)", list, err)
	}
	flipByte(t, list[0].Path, list[0].Size-20)
	r := runCLI(t, "inspect", dir).mustCode(t, exitOK)
	for _, want := range []string{"directory " + strconv.Quote(dir) + "\n", "run `mmsb check " + strconv.Quote(dir) + "`"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect of %q with a damaged checkpoint: stdout\n%s\nwant %q", dir, r.stdout, want)
		}
	}
}
