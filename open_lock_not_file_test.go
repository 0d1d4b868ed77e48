package mmsb_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// A LOCK that is a directory keeps every writer out; Open's error said
// only "open DIR/LOCK: is a directory", with no word of what to do.
func TestOpenLockNotRegularFileSaysWhat(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "LOCK"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := mmsb.Open(dir, nil)
	if err == nil {
		_ = b.Close()
		t.Fatalf("Open with LOCK a directory: nil error; want a refusal")
	}
	for _, want := range []string{filepath.Join(dir, "LOCK") + " must be a regular file", "remove it while no writer runs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open with LOCK a directory: %q; want it to contain %q", err, want)
		}
	}
}
