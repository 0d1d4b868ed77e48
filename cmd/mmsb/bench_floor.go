package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
)

// syncFloorFile is the file --sync-floor writes in the bench directory,
// beside the bus's own (the log, the checkpoints and LOCK), and removes.
const syncFloorFile = "sync-floor.tmp"

// syncFloor measures what the bus directory's device does alone: n
// appends of size bytes to a new file, each followed by the sync the log
// uses (File.Sync: fdatasync), with no bus running. A commit in group
// sync mode waits for such a sync, so its latency cannot beat this floor;
// a checkpoint's writes in the device's cache raise it further.
func syncFloor(ctx context.Context, fs vfs.FS, dir string, n, size int) (*latencyHist, error) {
	name := fs.Join(dir, syncFloorFile)
	f, err := fs.Create(name)
	if err != nil {
		return nil, fmt.Errorf("--sync-floor: %w", err)
	}
	buf := make([]byte, max(size, 1))
	for i := range buf {
		buf[i] = byte(i) // not zeros: nothing below may skip them
	}
	var h latencyHist
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		if _, err = f.Write(buf); err != nil {
			break
		}
		if err = f.Sync(); err != nil {
			break
		}
		h.record(time.Since(t0).Nanoseconds())
	}
	err = errors.Join(err, ctx.Err(), f.Close(), fs.Remove(name))
	if err != nil {
		return nil, fmt.Errorf("--sync-floor: %w", err)
	}
	return &h, nil
}
