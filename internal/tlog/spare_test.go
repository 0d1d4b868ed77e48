package tlog

import (
	"strconv"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestLargeRecordBufferNotKept: once a large record is written, the log
// does not keep the buffer it was framed in as its spare for life: after
// one 64 MiB record the log held that much heap until it was closed.
func TestLargeRecordBufferNotKept(t *testing.T) {
	if strconv.IntSize == 32 {
		t.Skip("a 64 MiB record is more than a 32-bit test binary can spare beside the others")
	}
	l := openLog(t, Options{FS: vfs.Default, Dir: t.TempDir(), Sync: SyncNone})
	defer l.Close()
	heapBefore := testutil.HeapAlloc()
	if _, err := l.Append(1, 1, make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	for lsn := base.LSN(2); lsn < 6; lsn++ { // small records swap the buffers again
		if _, err := l.Append(lsn, 1, []byte("small")); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if grew := testutil.HeapAlloc() - heapBefore; grew > 16<<20 {
		t.Fatalf("the log holds %d more bytes of heap after one 64 MiB record", grew)
	}
}
