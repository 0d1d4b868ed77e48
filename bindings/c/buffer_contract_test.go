package main

import (
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCBufferContract runs test/buffers_test.c, plain and under ASan +
// UBSan: every function of mmsb.h and mmsb_reader.h that fills a caller's
// buffer, at cap 0, cap = length, cap = length + 1, NULL with cap 0 (a size
// query), NULL with a capacity, NULL len and capacities of 2^31, 2^32 + 1
// and SIZE_MAX (strings succeed only with their NUL, too small writes
// nothing and names the size needed; mmsb_last_error truncates as
// snprintf); page IDs, offsets, lengths, counts and widths at and past their
// bounds; the last page ID; threads using a handle while two others close
// it at once. Before: mmsb_reader_region_path left a cut, terminated path in
// a buffer too small for it (snprintf's truncation, under a status that
// says too small) and took the shared directory as spelled ("SHM/" named
// "SHM//mmsb-...", and mmsb_reader_open under "SHM/x/.." was WRITER_GONE
// beside a running writer); mmsb_reader_read wrote info with TOO_SMALL.
func TestCBufferContract(t *testing.T) {
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	shm := testutil.ShmTempDir(t, "", "mmsb-c-buffers-")
	runBuilds(t, "gcc", filepath.Join("test", "buffers_test.c"), lib, []string{"-std=gnu11"}, func(*testing.T) []string {
		return []string{"SHM=" + shm}
	})
}
