package mmsb

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRelativeDirSurvivesChdir: a bus opened with a relative directory
// keeps working after the process changes its working directory. The
// path was kept as given, so the next log segment, checkpoint or removal
// went to a directory relative to the new working directory: the bus
// failed (or wrote its files elsewhere). Open makes it absolute; Dir
// reports the absolute path.
func TestRelativeDirSurvivesChdir(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	e, err := Open("bus", &Options{SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if want := filepath.Join(root, "bus"); e.Dir() != want {
		t.Fatalf("Dir() = %q, want %q", e.Dir(), want)
	}
	ids := mustCreate(t, e, 4, 1024)
	elsewhere := t.TempDir()
	if err := os.Chdir(elsewhere); err != nil {
		t.Fatal(err)
	}
	for i := range 32 { // several log segments of 4 KiB
		if _, err := e.Commit(ctx, []Delta{Write(ids[i%4], 0, make([]byte, 512))}); err != nil {
			t.Fatalf("commit %d after chdir: %v", i, err)
		}
	}
	if _, err := e.Checkpoint(context.Background()); err != nil {
		t.Fatalf("checkpoint after chdir: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "bus")); err == nil {
		t.Fatalf("the bus wrote files under the new working directory %s", elsewhere)
	}
	again, err := Open(filepath.Join(root, "bus"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.LastLSN() != e.LastLSN() {
		t.Fatalf("reopened at LSN %d, want %d", again.LastLSN(), e.LastLSN())
	}
}
