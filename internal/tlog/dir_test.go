package tlog

import (
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenMakesNewDirDurable: a log whose directory Open created keeps its
// synced records through a power failure. Open once only called MkdirAll,
// so the crash model (which loses a directory whose parent was not synced)
// lost the whole log.
func TestOpenMakesNewDirDurable(t *testing.T) {
	for _, dir := range []string{"wal", "db/wal", "/a/b/wal"} {
		t.Run(dir, func(t *testing.T) {
			mem := vfs.NewMem()
			recs := genRecords(1, 5, 40)
			l := openLog(t, Options{FS: mem, Dir: dir, Sync: SyncAlways})
			appendAll(t, l, recs)
			img := mem.CrashClone()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got, _, l2, err := replay(t, Options{FS: img, Dir: dir, Sync: SyncAlways}, 0)
			if err != nil {
				t.Fatalf("reopen after a crash: %v", err)
			}
			defer l2.Close()
			if len(got) != len(recs) {
				t.Fatalf("a crash kept %d of %d synced records", len(got), len(recs))
			}
		})
	}
}
