package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
)

// TestBusInUseNotSaidOfSharedRegion: busInUse tells a directory held by
// another writer from a shared region held by another process by the
// errors' sentinels (page.ErrRegionLocked, page.ErrHeaderLocked under
// mmsb.ErrLocked). It went by their text ("shared mode: ", "shared
// region "): a bus whose path held those words was never said to be in
// use, and a region error worded otherwise was said to be a held
// directory.
func TestBusInUseNotSaidOfSharedRegion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared region 1", "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	r := runCLI(t, "checkpoint", dir).mustCode(t, exitFailure)
	if want := dir + " is in use: another process holds its write lock ("; !strings.Contains(r.stderr, want) {
		t.Errorf("checkpoint of a held bus at %q: stderr lacks %q:\n%s", dir, want, r.stderr)
	}
	for _, sentinel := range []error{page.ErrRegionLocked, page.ErrHeaderLocked} {
		region := fmt.Errorf("%w: %w: /dev/shm/mmsb-x", mmsb.ErrLocked, sentinel)
		if got := busInUse(dir, region, "next"); got.Error() != region.Error() {
			t.Errorf("busInUse(%v) = %v, want the region's error as it is", region, got)
		}
	}
	held := fmt.Errorf("%w: %s", mmsb.ErrLocked, filepath.Join(dir, "LOCK"))
	if got := busInUse(dir, held, "next"); !errors.Is(got, mmsb.ErrLocked) || !strings.Contains(got.Error(), " is in use: ") {
		t.Errorf("busInUse(%v) = %v, want it said in use, wrapping mmsb.ErrLocked", held, got)
	}
}
