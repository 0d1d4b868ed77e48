package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckSaysSetAsideDirs: check of a replica's directory says which
// directories a replication node set aside beside it (DIR.diverged-<unix
// ns>), oldest first, in its summary and its JSON, and still passes:
// nothing removes them, and nothing else showed they were there, taking
// space, one more each time a node set its directory aside.
func TestCheckSaysSetAsideDirs(t *testing.T) {
	tb := newTestBus(t)
	parent := filepath.Dir(tb.dir)
	var want []string
	for _, ns := range []string{"100", "20"} {
		p := filepath.Join(parent, "data.diverged-"+ns)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		want = append([]string{p}, want...)
	}
	r := runCLI(t, "check", "--no-progress", tb.dir).mustCode(t, exitOK)
	line := "set aside:   2 directories beside " + tb.dir + ", oldest " + want[0] + ", newest " + want[1]
	if !strings.Contains(r.stdout, line) {
		t.Fatalf("check does not say %q:\n%s", line, r.stdout)
	}
	var rep checkReport
	runCLI(t, "check", "--no-progress", "--json", tb.dir).mustCode(t, exitOK).decodeJSON(t, &rep)
	if !rep.OK || !slices.Equal(rep.SetAside, want) {
		t.Fatalf("check --json: ok %v, set_aside %v; want ok, %v", rep.OK, rep.SetAside, want)
	}
}
