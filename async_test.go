package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// CommitAsync applies at once; WaitDurable makes it survive a power
// failure (a crash image of the in-memory FS keeps only fsynced bytes).
func TestCommitAsyncThenWaitDurable(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/db", &Options{FS: fs})
	mustCreate(t, e, 2, 16)
	var last LSN
	for i := 0; i < 20; i++ {
		info, err := e.CommitAsync(ctx, []delta.Delta{w(PageID(1+i%2), i%8, "async")})
		if err != nil {
			t.Fatal(err)
		}
		last = info.LastLSN
	}
	if got, ep, _ := e.ReadPage(2, nil); ep != 10 || string(got[3:8]) != "async" { // last write: i=19 at offset 3
		t.Fatalf("async commits not visible: epoch %d %q", ep, got)
	}
	if err := e.WaitDurable(ctx, last); err != nil {
		t.Fatal(err)
	}
	hash := hashOf(t, e)
	crashed := fs.CrashClone()
	e.Close()
	e2 := openT(t, "/db", &Options{FS: crashed})
	defer e2.Close()
	if e2.LastLSN() != last || hashOf(t, e2) != hash {
		t.Fatalf("after a crash: LSN %d (want %d), hash equal %v", e2.LastLSN(), last, hashOf(t, e2) == hash)
	}
}
