package cliflags

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOutputDirUndo: undo removes the directories OutputDir made (here
// plots/a/b under a directory that existed) while they are empty, and
// never a directory that existed before or one that holds a file. Before,
// a run interrupted before its charts left the empty --plot directory
// behind (OutputDir had no undo). Making the directory is the control.
func TestOutputDirUndo(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "plots", "a", "b")
	undo, err := OutputDir("plot", dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("OutputDir(%s): %v, %v; want the directory made", dir, st, err)
	}
	undo()
	if _, err := os.Stat(filepath.Join(root, "plots")); !os.IsNotExist(err) {
		t.Fatalf("after undo, %s/plots: %v; want it removed", root, err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("undo removed %s, which existed before: %v", root, err)
	}

	// A directory that holds a chart by the time undo runs is kept.
	undo, err = OutputDir("plot", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chart.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := os.Stat(filepath.Join(dir, "chart.png")); err != nil {
		t.Fatalf("undo removed a directory holding a file: %v", err)
	}

	// A directory that existed before OutputDir is kept, even empty.
	old := filepath.Join(root, "old")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	undo, err = OutputDir("plot", old)
	if err != nil {
		t.Fatal(err)
	}
	undo()
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("undo removed %s, which existed before: %v", old, err)
	}
}
