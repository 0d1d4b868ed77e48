//go:build linux

package page

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestShmReaderSparseCheckPassesGrowingWriterHugeTmpfs:
// TestShmReaderSparseCheckPassesGrowingWriter on a
// tmpfs mounted huge=always, where a fallocate of one slot reservation
// allocates a 2 MiB page (st_blocks counts all of it: more than the
// bytes, never fewer). It needs a tmpfs of its own (root: mount).
func TestShmReaderSparseCheckPassesGrowingWriterHugeTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m,mode=0700,huge=always"); err != nil {
		// Not an outside program CI installs: a kernel without shmem huge
		// pages, or a container without CAP_SYS_ADMIN, cannot mount it.
		// TestShmReaderSparseCheckPassesGrowingWriter covers /dev/shm.
		t.Skipf("needs a private tmpfs mounted huge=always (root, a kernel with shmem huge pages): mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	dir := filepath.Join(mnt, "region")
	s, err := NewShared(dir+".building", 0o600, 1, uint64(os.Getpid()), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	growUnderReaders(t, s, dir)
}
