package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestServeRefusesReplicaDirWithoutReplicate: `mmsb serve --dir DIR`
// without --replicate, DIR a replication node's (its replica marker, or a
// term file from before the marker), served the replica as a writable bus:
// a loadtest's 478 commits were acknowledged there, and the next
// `mmsb replicate --dir DIR` found the log beyond the stream and moved the
// bus files to DIR.diverged-*. It is now a usage error naming the
// file, before anything opens DIR.
func TestServeRefusesReplicaDirWithoutReplicate(t *testing.T) {
	for _, tc := range []struct{ file, content string }{
		{"replicate-stream", "mmsb-replica MMSB_LOG_mmsb\n"},
		{"replicate-term", "MMSB_LOG_mmsb@1 1\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "replica")
			bus, err := mmsb.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(dir, tc.file)
			if err := os.WriteFile(marker, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			before := listTree(t, dir)
			// Refused, it returns at once; served, it runs until stopped.
			c := startCmd(t, "serve", "--addr", "127.0.0.1:0", "--dir", dir)
			select {
			case code := <-c.exited:
				c.exited <- code
			case <-time.After(10 * time.Second):
			}
			if code := c.stop(); code != exitUsage {
				t.Fatalf("exit status %d, want %d (a usage error): it served the replica directory\n%s", code, exitUsage, c.stderr.String())
			}
			stderr, stdout := c.stderr.String(), c.stdout.String()
			if !strings.Contains(stderr, "--dir "+dir+" is a replication node's directory ("+marker+")") ||
				!strings.Contains(stderr, "--replicate") || stdout != "" {
				t.Errorf("stderr %q (stdout %q), want it to name %s and --replicate", stderr, stdout, marker)
			}
			if after := listTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("the refused serve changed %s:\nbefore %q\nafter  %q", dir, before, after)
			}
		})
	}
}
