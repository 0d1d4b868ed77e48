package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckWarnsOfInterruptedSetAside: a replication node's set-aside
// interrupted midway leaves DIR.diverged-<ns>.part beside DIR, which the
// node's next start finishes or undoes (docs/replication.md); check said
// nothing of it, not even when the bus had been moved there and DIR
// itself was refused. It now prints a WARNING naming the .part, what it
// holds and what the next start does with it (in --json's warnings
// too), and changes nothing.
func TestCheckWarnsOfInterruptedSetAside(t *testing.T) {
	tb := newTestBus(t)
	parent := filepath.Dir(tb.dir)
	part := filepath.Join(parent, "data.diverged-7.part")
	if err := os.MkdirAll(filepath.Join(part, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, parent)
	r := runCLI(t, "check", "--no-progress", tb.dir).mustCode(t, exitOK)
	for _, want := range []string{
		"WARNING " + part + ": a replication node's set-aside of " + tb.dir + " was interrupted: wal/ of its bus were moved here",
		"renames this directory to " + filepath.Join(parent, "data.diverged-7") + " and rebuilds " + tb.dir,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check does not say %q:\n%s", want, r.stdout)
		}
	}
	var rep checkReport
	runCLI(t, "check", "--no-progress", "--json", tb.dir).mustCode(t, exitOK).decodeJSON(t, &rep)
	if !slices.ContainsFunc(rep.Warnings, func(w checkProblem) bool { return w.File == part }) {
		t.Errorf("check --json: warnings %+v, want one naming %s", rep.Warnings, part)
	}
	if after := listTree(t, parent); !slices.Equal(after, before) {
		t.Errorf("check changed %s:\nbefore %q\nafter  %q", parent, before, after)
	}

	// Nothing moved yet: the next start removes it.
	if err := os.Remove(filepath.Join(part, "wal")); err != nil {
		t.Fatal(err)
	}
	before = listTree(t, parent)
	r = runCLI(t, "check", "--no-progress", tb.dir).mustCode(t, exitOK)
	if want := "WARNING " + part + ": a replication node's set-aside of " + tb.dir + " was interrupted before it moved anything"; !strings.Contains(r.stdout, want) ||
		!strings.Contains(r.stdout, "removes this directory") {
		t.Errorf("check does not say %q and that the next start removes it:\n%s", want, r.stdout)
	}
	if after := listTree(t, parent); !slices.Equal(after, before) {
		t.Errorf("check changed %s:\nbefore %q\nafter  %q", parent, before, after)
	}

	// The whole bus moved: DIR, holding none of its files, is refused,
	// and the warning says where the bus is.
	empty := filepath.Join(t.TempDir(), "node")
	moved := empty + ".diverged-9.part"
	makeTree(t, moved, map[string]string{"wal/": "", "checkpoints/": ""})
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "check", "--no-progress", empty)
	if r.code == exitOK || !strings.Contains(r.stderr, "WARNING "+moved+": a replication node's set-aside of "+empty+" was interrupted: wal/, checkpoints/ of its bus were moved here") {
		t.Errorf("check of %s: exit %d, stderr %q; want it refused with the warning", empty, r.code, r.stderr)
	}
}
