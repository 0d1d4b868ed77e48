package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestSyncFloor: every append is followed by a sync, appends are of the
// size asked for, each is timed, and the file is gone afterwards; a
// failing sync is an error naming --sync-floor, and the file is still
// removed. Controls: the counts are compared with the injector's own
// count of writes and syncs, which a loop that skipped the sync (or
// appended less) would not match; the failing sync is the negative case.
func TestSyncFloor(t *testing.T) {
	mem := vfs.NewMem()
	if err := mem.MkdirAll("d"); err != nil {
		t.Fatal(err)
	}
	var writes, syncs, wrongSize int
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpWrite:
			writes++
			if op.N != 100 || op.Offset != int64(100*(writes-1)) {
				wrongSize++
			}
		case errorfs.OpSync:
			syncs++
		}
		return nil
	}))
	h, err := syncFloor(context.Background(), fs, "d", 7, 100)
	if err != nil {
		t.Fatal(err)
	}
	if h.n != 7 || writes != 7 || syncs != 7 || wrongSize != 0 || h.max < h.quantile(0.5) {
		t.Fatalf("%d timed, %d writes (%d of the wrong size or place), %d syncs", h.n, writes, wrongSize, syncs)
	}
	if mem.Exists(mem.Join("d", syncFloorFile)) {
		t.Fatal("the floor's file is left behind")
	}

	bad := errorfs.Wrap(mem, errorfs.After(3, errorfs.OnKind(errorfs.OpSync, errors.New("disk gone"))))
	_, err = syncFloor(context.Background(), bad, "d", 7, 100)
	if err == nil || !strings.Contains(err.Error(), "--sync-floor") || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("failing sync: %v", err)
	}
	if mem.Exists(mem.Join("d", syncFloorFile)) {
		t.Fatal("the floor's file is left behind after a failure")
	}
}

// TestBenchSyncFloor: an on-disk bench with --sync-floor reports that
// many syncs of the log's mean bytes per sync, leaves no file behind, and
// without the flag reports none; --checkpoint-rate is echoed.
func TestBenchSyncFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bus")
	res := benchJSON(t, "--dir", dir, "--sync-floor", "5", "--checkpoint-rate", "12345678", "--no-verify")
	if res.CheckpointRate != 12345678 {
		t.Fatalf("checkpoint_rate %d, want the flag's 12345678", res.CheckpointRate)
	}
	if res.SyncFloorSyncs != 5 || res.LogSyncs == 0 || res.SyncFloorBytes != int(res.LogBytes/res.LogSyncs) ||
		res.SyncFloorP50NS <= 0 || res.SyncFloorP99NS > res.SyncFloorMaxNS {
		t.Fatalf("floor: %d syncs of %d B (log %d B in %d syncs), p50 %d p99 %d max %d", res.SyncFloorSyncs,
			res.SyncFloorBytes, res.LogBytes, res.LogSyncs, res.SyncFloorP50NS, res.SyncFloorP99NS, res.SyncFloorMaxNS)
	}
	if _, err := os.Stat(filepath.Join(dir, syncFloorFile)); !os.IsNotExist(err) {
		t.Fatalf("the floor's file: %v", err)
	}
	if res := benchJSON(t, "--dir", filepath.Join(t.TempDir(), "bus"), "--no-verify"); res.SyncFloorSyncs != 0 {
		t.Fatalf("a floor without --sync-floor: %d syncs", res.SyncFloorSyncs)
	}
}
