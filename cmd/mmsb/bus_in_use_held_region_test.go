package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestServeSharedOverHeldRegionNotSaidInUse: `mmsb serve --shared` on a
// bus whose shared region a live writer of another bus holds fails
// naming the region, not saying the bus directory is in use: Open's
// error wrapped mmsb.ErrLocked alone, so busInUse took it for a held
// directory.
func TestServeSharedOverHeldRegionNotSaidInUse(t *testing.T) {
	dir, shm := filepath.Join(t.TempDir(), "data"), shmDirForTest(t)
	region, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time: %v", err)
	}
	// A region this process holds as its writer (the header's flock), as
	// a writer of another bus whose path gives the same region name would.
	st, err := page.NewShared(region+".building-test", 0o600, 1, uint64(os.Getpid()), start+1)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Create(1, 100, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Publish(region, 1); err != nil {
		t.Fatal(err)
	}
	// A deadline ends a serve that starts instead of failing.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb strings.Builder
	if code := run(ctx, []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--shared", "--shm-dir", shm}, &out, &errb); code != exitFailure {
		t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitFailure, out.String(), errb.String())
	}
	if bad := " is in use: another process holds its write lock"; strings.Contains(errb.String(), bad) {
		t.Errorf("stderr says the directory is in use, but only its shared region is held:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), region) {
		t.Errorf("stderr does not name the held region %s:\n%s", region, errb.String())
	}
}
