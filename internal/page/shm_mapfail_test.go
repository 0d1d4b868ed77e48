//go:build linux && (amd64 || arm64)

package page

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A chunk file whose mapping fails is removed: it was created with
// O_EXCL and left behind, and the chunk's generation was not bumped, so
// every later chunk at that index failed to create its file (EEXIST,
// reported as ErrNoSpace) for the life of the region. The mapping is
// made to fail with a size no address space holds (2^57 bytes of a
// sparse tmpfs file: the truncate succeeds, the mmap cannot).
func TestShmFailedMapLeavesNoFile(t *testing.T) {
	s, _ := sharedStore(t)
	b := s.shm
	name := ChunkFileName(7, 1)
	if _, err := b.mapFile(name, 1<<57, 0); err == nil {
		t.Fatal("a 2^57-byte shared mapping succeeded: no address space holds that")
	}
	if _, err := os.Lstat(filepath.Join(b.dir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the failed mapping %s is still there (Lstat: %v)", name, err)
	}
	mem, err := b.mapFile(name, 1<<20, 0)
	if err != nil {
		t.Fatalf("the same chunk file again, 1 MiB: %v", err)
	}
	if err := unmap(mem); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(b.dir, name))
}
