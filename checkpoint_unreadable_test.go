package mmsb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
)

// TestOpenSkipsUnreadableCheckpoint: a newest checkpoint name that holds
// no readable file (here a dangling link, as an unreadable file is for a
// process without the permission) is skipped like a damaged checkpoint:
// Open recovers from the older, whole one and the log, and
// Recovery().SkippedCheckpoint names the file and the reason. Before, Open
// failed ("mmsb: list checkpoints: checkpoint: open ...: no such file or
// directory") although the files held the whole state.
func TestOpenSkipsUnreadableCheckpoint(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	e := openT(t, dir, nil)
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, last := hashOf(t, e), e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "checkpoints", checkpoint.FileName(last))
	if err := os.Symlink(filepath.Join(dir, "gone"), bad); err != nil {
		t.Fatal(err)
	}
	e, err = Open(dir, nil)
	if err != nil {
		t.Fatalf("Open: %v, want recovery from the older checkpoint", err)
	}
	defer e.Close()
	if got := hashOf(t, e); got != want || e.LastLSN() != last {
		t.Fatalf("recovered LSN %d hash %x, want LSN %d hash %x", e.LastLSN(), got, last, want)
	}
	sk := e.Recovery().SkippedCheckpoint
	if len(sk) != 1 || !strings.Contains(sk[0], bad) || !strings.Contains(sk[0], "a dangling symbolic link") {
		t.Fatalf("SkippedCheckpoint %q, want one naming %s", sk, bad)
	}
	// The next checkpoint replaces the unreadable one: its pruning removes
	// the name (which is no file it can shrink first) without failing.
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 8, []byte{9})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint after skipping an unreadable one: %v", err)
	}
	if _, err := os.Lstat(bad); err == nil {
		t.Fatalf("%s survived the next checkpoint", bad)
	}
}
