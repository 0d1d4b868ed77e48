package checkpoint

import (
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestCreateMakesNewDirDurable: a committed checkpoint in a directory that
// Create made survives a power failure. Create once only called MkdirAll,
// so the crash model (which loses a directory whose parent was not synced)
// lost the checkpoint with its directory.
func TestCreateMakesNewDirDurable(t *testing.T) {
	for _, dir := range []string{"checkpoints", "db/checkpoints"} {
		t.Run(dir, func(t *testing.T) {
			mem := vfs.NewMem()
			recs := sampleRecords(4)
			path := writeCheckpoint(t, mem, dir, 7, recs)
			img := mem.CrashClone()
			infos, err := List(img, dir)
			if err != nil {
				t.Fatalf("list after a crash: %v", err)
			}
			if len(infos) != 1 || infos[0].Path != path {
				t.Fatalf("after a crash: %+v, want %s", infos, path)
			}
			if err := Verify(img, path); err != nil {
				t.Fatal(err)
			}
		})
	}
}
