//go:build linux

package mmsb

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// mountTmpfs mounts a tmpfs of size (mount's size= syntax) of its own
// for the test, or reports it Missing (not root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		testutil.Missing(t, "needs a private tmpfs (root): mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}

// TestSharedCreateOutOfSpace: in shared mode, a create batch that does
// not fit in the tmpfs (its chunk cannot be pre-faulted, or its slots
// allocated) is refused with ErrNoSpace (wrapping ENOSPC or the failed
// pre-fault) before it is logged, and the bus keeps working: a delta to
// an earlier page, a free and a smaller create commit, and a reopen, with
// Shared or without, recovers exactly the committed state. The create
// was logged first and its apply refused: the bus failed ("bus failed
// ... logged op 0 does not apply: page 8193: allocating 256 bytes: ...
// pre-fault 1048576 bytes: ... (tmpfs full?)") until reopened.
//
// It needs a tmpfs of its own (mount, as root; CI runs it so). Named
// TestShared* for .ci/run's qemu-arm step, which skips those: there the
// pre-fault falls back to touching pages, and a full tmpfs is a SIGBUS.
func TestSharedCreateOutOfSpace(t *testing.T) {
	// 8-byte pages take 40 bytes of slot arrays each: the slots' space
	// (fallocate: ENOSPC) runs out before their chunks' (32 KiB each).
	tiny := noSpaceCase{name: "tiny pages", size: 8, batch: 512, smaller: 8, errno: syscall.ENOSPC}
	for _, tc := range append(noSpaceCases[:len(noSpaceCases):len(noSpaceCases)], tiny) {
		t.Run(tc.name, func(t *testing.T) {
			// Room for the region's header, chunk table and slots, two
			// chunks of 256-byte pages (1 MiB each) and a 32 KiB chunk
			// of 8-byte pages; or for three 3 MiB pages; or for some
			// 20,000 8-byte pages.
			size := "3m"
			switch {
			case tc.size > 1<<20:
				size = "10m"
			case tc.size == 8:
				size = "1m"
			}
			mnt := mountTmpfs(t, size)
			dir := t.TempDir()
			e, err := Open(dir, &Options{Sync: SyncNone, Shared: true, SharedDir: mnt})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = e.Close() }()
			checkCreateRefusedKeepsBus(t, e, tc, nil, &Options{Shared: true, SharedDir: mnt})
		})
	}
}
