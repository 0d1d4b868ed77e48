//go:build linux && (amd64 || arm64)

package page

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A slot-array file whose first mapping fails is removed, as a chunk
// file is (TestShmFailedMapLeavesNoFile): growShared creates it with
// O_EXCL, and left behind it made every later first growth of that
// array fail with EEXIST (reported as ErrNoSpace), so a store whose first
// Create met a failed mmap could never create a page again. The mapping
// fails with a size no address space holds (2^57 bytes of a sparse tmpfs
// file: the truncate succeeds, the mmap cannot).
func TestShmFailedSlotArrayMapLeavesNoFile(t *testing.T) {
	s, _ := sharedStore(t)
	r := &region{shmDir: s.shm.dir, name: "ids-test", perm: 0o600}
	if err := r.grow(1 << 57); err == nil {
		t.Fatal("a 2^57-byte shared slot array mapped: no address space holds that")
	} else if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("failed growth: %v, want ErrNoSpace", err)
	}
	if r.mem != nil {
		t.Fatalf("failed growth left a %d-byte mapping", len(r.mem))
	}
	path := filepath.Join(r.shmDir, r.name)
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after the failed mapping %s is still there (Lstat: %v)", path, err)
	}
	if err := r.grow(1 << 16); err != nil {
		t.Fatalf("the same slot array again, 64 KiB: %v", err)
	}
	if err := r.release(); err != nil {
		t.Fatal(err)
	}
}
