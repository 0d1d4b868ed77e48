package replicate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSetAsideDirsListsOldestFirst: SetAsideDirs lists the directories
// set aside beside a bus directory, by the time in their names (not the
// listing's order), and nothing else: not another directory's, not a
// file, not a name without a time.
func TestSetAsideDirsListsOldestFirst(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "d")
	for _, name := range []string{"d", "d.diverged-200", "d.diverged-1000", "d.diverged-30", "d.diverged-x", "dd.diverged-5"} {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(parent, "d.diverged-7"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := SetAsideDirs(dir + "/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(parent, "d.diverged-30"), filepath.Join(parent, "d.diverged-200"), filepath.Join(parent, "d.diverged-1000")}
	if !slices.Equal(got, want) {
		t.Fatalf("SetAsideDirs = %v, want %v", got, want)
	}
	if got, err := SetAsideDirs(filepath.Join(parent, "none", "d")); err != nil || len(got) != 0 {
		t.Fatalf("SetAsideDirs of a directory whose parent is missing = %v, %v; want none", got, err)
	}
}

// TestNodeStartLogsSetAsideDirs: a node started beside directories set
// aside earlier says so, naming how many and the oldest and newest:
// nothing removes them, and they grew unseen, one per set-aside.
func TestNodeStartLogsSetAsideDirs(t *testing.T) {
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	for _, name := range []string{"a.diverged-100", "a.diverged-200"} {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logLines{t: t}
	startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(parent, "a"), Logf: logs.logf})
	want := "set-aside directories beside " + filepath.Join(parent, "a") + ": 2, oldest " + filepath.Join(parent, "a.diverged-100") + ", newest " + filepath.Join(parent, "a.diverged-200")
	if logs.count(want) != 1 {
		t.Fatalf("no line %q at the node's start", want)
	}
}

// TestSetAsideBesideDirGivenWithSlash: a node whose directory is given
// as "DIR/" sets its bus files aside beside DIR, as DIR.diverged-<ns>,
// and says so. Before, they went inside DIR itself (DIR/.diverged-<ns>),
// where the rebuilt bus's directory kept them.
func TestSetAsideBesideDirGivenWithSlash(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wal", "x"), []byte("record"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	n := &Node{cfg: NodeConfig{ID: "a", Dir: dir + "/", Logf: logs.logf}}
	if err := n.setAside("test", nil); err != nil {
		t.Fatal(err)
	}
	got, err := SetAsideDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("set aside beside %s: %v, want one (in %s: %v)", dir, got, dir, ents)
	}
	if _, err := os.Stat(filepath.Join(got[0], "wal", "x")); err != nil {
		t.Fatalf("the set-aside directory does not hold the log: %v", err)
	}
	if logs.count("set-aside directories beside "+dir+"/: 1,") != 1 {
		t.Fatal("no line counting the set-aside directory")
	}
}

// TestSetAsideBesideDirGivenAsDot: a node whose directory is given as
// "." (mmsb serve --dir . in the bus directory) sets its bus files aside
// beside that directory, and SetAsideDirs lists them there. Before, they
// went inside it, as "..diverged-<ns>" in the working directory, where
// the rebuilt bus's directory kept them.
func TestSetAsideBesideDirGivenAsDot(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wal", "x"), []byte("record"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	n := &Node{cfg: NodeConfig{ID: "a", Dir: ".", Logf: t.Logf}}
	if err := n.setAside("test", nil); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), setAsidePrefix) {
			t.Fatalf("set aside inside the directory itself: %s", filepath.Join(dir, e.Name()))
		}
	}
	got, err := SetAsideDirs(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || filepath.Dir(got[0]) != parent {
		t.Fatalf("SetAsideDirs(\".\") = %v, want one beside %s", got, dir)
	}
	if _, err := os.Stat(filepath.Join(got[0], "wal", "x")); err != nil {
		t.Fatalf("the set-aside directory does not hold the log: %v", err)
	}
}
