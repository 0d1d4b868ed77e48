//go:build linux

package mmsb

import (
	"context"
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
)

// TestSharedRecoveryOutOfSpaceIsNotCorruption: an operation of the log that
// recovery cannot apply because the shared-memory tmpfs (or the address
// space) has no room says nothing about the log: Open fails with the
// space error (ErrNoSpace, the sentinel a live create refused for space
// returns, wrapping page.ErrNoSpace with ENOSPC or the failed pre-fault in
// its chain), not ErrCorruption. It was reported as
// "corruption in .../wal/...log at offset 24: op at LSN 1 does not apply",
// which sends an operator to repair a log that is whole. The control
// reopens the same directory without Shared: the log replays.
//
// It needs a tmpfs of its own, 1 MiB (mount, as root); CI runs it so. Named
// TestShared* for .ci/run's qemu-arm step, which skips those: there the
// pre-fault falls back to touching pages, and a full tmpfs is a SIGBUS.
func TestSharedRecoveryOutOfSpaceIsNotCorruption(t *testing.T) {
	mnt := mountTmpfs(t, "1m")
	dir := t.TempDir()
	// Written without Shared: a 4 MiB page, more than the tmpfs holds.
	e, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreatePage(context.Background(), PageSpec{Size: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(dir, &Options{Shared: true, SharedDir: mnt})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open with a 4 MiB page on a 1 MiB tmpfs succeeded")
	}
	if errors.Is(err, ErrCorruption) || !errors.Is(err, ErrNoSpace) || !errors.Is(err, page.ErrNoSpace) {
		t.Fatalf("Open = %v; want ErrNoSpace (wrapping page.ErrNoSpace), not ErrCorruption: the log is whole", err)
	}
	e, err = Open(dir, nil) // control: the log is whole
	if err != nil {
		t.Fatalf("the same log without Shared: %v", err)
	}
	if n := e.Stats().Pages; n != 1 {
		t.Fatalf("recovered %d pages, want 1", n)
	}
	_ = e.Close()
}
