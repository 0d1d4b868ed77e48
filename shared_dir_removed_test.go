package mmsb

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestSharedDirRemovedBeforePublish: a SharedDir removed after Open
// checked it, while the bus recovered (openRecoveredHook stands for that
// moment), fails the Open at publication with ErrInvalidOption saying
// that the directory no longer exists, naming it. It was reported as a
// SharedDir that "cannot hold a shared region" (the ENOENT of the region
// name's lock file), which sent the user after the wrong filesystem.
func TestSharedDirRemovedBeforePublish(t *testing.T) {
	shm := scratchShmDir(t)
	dir := t.TempDir()
	openRecoveredHook = func() error { return os.RemoveAll(shm) }
	defer func() { openRecoveredHook = nil }()
	bus, err := Open(dir, &Options{Shared: true, SharedDir: shm})
	if err == nil {
		_ = bus.Close()
		t.Fatal("shared Open whose SharedDir was removed before publication: nil error")
	}
	if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), shm+" no longer exists") {
		t.Fatalf("shared Open whose SharedDir was removed before publication: %v; want ErrInvalidOption saying %s no longer exists", err, shm)
	}
	openRecoveredHook = nil
	// Nothing committed depends on it: the bus opens once it is back.
	if err := os.Mkdir(shm, 0o700); err != nil {
		t.Fatal(err)
	}
	bus, err = Open(dir, &Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatalf("shared Open once SharedDir is back: %v", err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}
