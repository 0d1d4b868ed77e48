package main

import (
	"context"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestSharedWatchOtherSharedDirSaysShmDir: watch without --shm-dir beside
// a writer running in shared mode with another Options.SharedDir (serve
// --shared --shm-dir) finds no region where it looks, and its error says
// that such a writer needs --shm-dir. It said only "(watch follows a
// writer running in shared mode: mmsb serve --dir DIR --shared, or
// Options.Shared)", the very writer that was running. With a --shm-dir
// that is not the writer's, the error names the directory it looked in.
func TestSharedWatchOtherSharedDirSaysShmDir(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "watch", dir, "--count", "1").mustCode(t, exitFailure)
	for _, want := range []string{"shared-memory writer gone", "it looked in " + mmsb.DefaultSharedDir,
		"a writer with another Options.SharedDir (serve --shm-dir) needs --shm-dir naming that directory"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	other := shmDirForTest(t)
	r = runCLI(t, "watch", dir, "--count", "1", "--shm-dir", other).mustCode(t, exitFailure)
	if want := "it looked in --shm-dir " + other + ": give the writer's Options.SharedDir"; !strings.Contains(r.stderr, want) {
		t.Errorf("watch --shm-dir %s: stderr lacks %q:\n%s", other, want, r.stderr)
	}
}
