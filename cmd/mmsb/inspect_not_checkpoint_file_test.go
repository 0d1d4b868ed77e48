package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestInspectPassesOverNotCheckpointFile: a directory under a checkpoint's
// name in checkpoints/ (checkpoint-N.ckpt/, made by hand or by a copy
// tool) holds no checkpoint: Open, replay and `mmsb check` pass over it
// with a note (checkpoint.ListFiles). inspect listed it with the raw
// listing, as a damaged checkpoint ("damaged", "1 checkpoint(s) do not
// verify", ok false in JSON), beside a state that was whole. It is now
// passed over with the same note as check's, and no checkpoint problem.
func TestInspectPassesOverNotCheckpointFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	notFile := filepath.Join(dir, "checkpoints", fmt.Sprintf("checkpoint-%020d.ckpt", 99))
	if err := os.Mkdir(notFile, 0o755); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "inspect", dir).mustCode(t, exitOK)
	if strings.Contains(r.stdout, "damaged") || strings.Contains(r.stdout, "do not verify") || strings.Contains(r.stdout, filepath.Base(notFile)+"  ") {
		t.Errorf("inspect shows the directory %s as a checkpoint:\n%s", notFile, r.stdout)
	}
	if !strings.Contains(r.stderr, notFile) || !strings.Contains(r.stderr, "passed over") {
		t.Errorf("stderr %q, want a note naming %s as passed over", r.stderr, notFile)
	}
	j := runCLI(t, "inspect", "--json", dir).mustCode(t, exitOK)
	if !strings.Contains(j.stdout, `"checkpoint_problems": 0`) || strings.Contains(j.stdout, filepath.Base(notFile)) {
		t.Errorf("inspect --json lists %s or counts a problem:\n%s", notFile, j.stdout)
	}
}
