package validate

import (
	"runtime"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityCheckpointPagesNotExpanded: integrity reads of a
// checkpoint's page records only the ID, size, epoch and LSN, so loading a
// checkpoint holding a never-written page of base.MaxPageSize (a record of
// a few KiB: zeros are trimmed) must not allocate the page. It expanded
// every page into a scratch buffer of its declared size: 16 MiB for this
// one, and as much for a hand-made record of 20 bytes declaring it.
func TestIntegrityCheckpointPagesNotExpanded(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	_, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: base.MaxPageSize}})
	mustNil(t, err)
	_, err = e.Checkpoint(ctx)
	mustNil(t, err)
	mustNil(t, e.Close())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	runtime.ReadMemStats(&after)
	requireOK(t, rep, err)
	got := after.TotalAlloc - before.TotalAlloc
	t.Logf("integrity allocated %d bytes", got)
	if got >= base.MaxPageSize/4 {
		t.Fatalf("integrity allocated %d bytes checking a log and a checkpoint of one %d-byte page that stores a few KiB", got, base.MaxPageSize)
	}
}
