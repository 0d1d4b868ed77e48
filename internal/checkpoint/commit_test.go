package checkpoint

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestFailedDirSyncKeepsEarlierCheckpointOfSameLSN: a checkpoint taken a
// second time at the same LSN (no commit since the last one) renames over
// the first. When the directory fsync after that rename failed, Commit
// removed the final name to leave "no checkpoint a crash could lose", and
// so deleted the earlier, durable checkpoint of that LSN too: the bus was
// left with one checkpoint fewer than it retained, and with none if it
// kept one. Either file under that name is whole and synced, so it stays.
func TestFailedDirSyncKeepsEarlierCheckpointOfSameLSN(t *testing.T) {
	mem := vfs.NewMem()
	toggle := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSyncDir, errorfs.ErrInjected))
	fs := errorfs.Wrap(mem, toggle)
	const dir = "/ck"
	first := writeCheckpoint(t, fs, dir, 7, sampleRecords(5))

	toggle.On()
	w, err := Create(fs, dir, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sampleRecords(5) {
		if err := w.Append(r.kind, r.payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Commit with the directory fsync failing: %v", err)
	}
	toggle.Off()
	if err := Verify(mem, first); err != nil {
		t.Fatalf("the earlier checkpoint of LSN 7 is gone: %v", err)
	}
	// After a crash the name holds one of the two, whole.
	if err := Verify(mem.CrashClone(), first); err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	// A new name is still taken back (TestFailedCommitLeavesNothing).
	toggle.On()
	w, err = Create(fs, dir, 8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(); !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("Commit with the directory fsync failing: %v", err)
	}
	toggle.Off()
	infos, err := List(mem, dir)
	if err != nil || len(infos) != 1 || infos[0].LSN != 7 {
		t.Fatalf("List = %+v, %v; want only LSN 7", infos, err)
	}
}
