package mmsb_test

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
)

// TestSharedRegionHeldIsRegionLocked: a shared Open refused because a
// live writer of another bus holds the region is mmsb.ErrLocked wrapping
// page.ErrRegionLocked, the sentinel by which cmd/mmsb tells a held
// region from a held bus directory. It wrapped ErrLocked alone, so
// `mmsb serve --shared` said the directory was in use.
func TestSharedRegionHeldIsRegionLocked(t *testing.T) {
	dir, shm, region := handMadeRegion(t, 1)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err == nil {
		_ = bus.Close()
		t.Fatalf("shared Open over the region %s of a live writer succeeded", region)
	}
	if !errors.Is(err, mmsb.ErrLocked) || !errors.Is(err, page.ErrRegionLocked) {
		t.Fatalf("shared Open over the region of a live writer: %v; want mmsb.ErrLocked and page.ErrRegionLocked", err)
	}
}
