package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/replicate"
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
			// The way out of replication, for a replica served alone on
			// purpose: it named none, and removing the marker alone leaves
			// a term file that makes the next node set the bus aside.
			if !strings.Contains(stderr, "remove both "+filepath.Join(dir, "replicate-stream")+" and "+filepath.Join(dir, "replicate-term")) {
				t.Errorf("stderr %q names no way to serve the directory alone (remove both replica files)", stderr)
			}
			if after := listTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("the refused serve changed %s:\nbefore %q\nafter  %q", dir, before, after)
			}
		})
	}
}

// TestServeReplicaDirWayOutIsRight: the refusal above names a way to
// serve a replica alone (replication ended for good): remove both
// replica files. Check that advice: with both gone a replication node
// refuses the directory as a standalone bus (it does not set the bus
// aside), while with only the marker gone its term file still makes the
// directory a replica that a node takes (and would set aside once its log
// is beyond the stream), and serve, given both files' removal, serves it.
func TestServeReplicaDirWayOutIsRight(t *testing.T) {
	const stream = "MMSB_LOG_mmsb"
	dir := filepath.Join(t.TempDir(), "replica")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	marker, term := filepath.Join(dir, "replicate-stream"), filepath.Join(dir, "replicate-term")
	if err := os.WriteFile(term, []byte(stream+"@1 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(marker, []byte("mmsb-replica "+stream+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := replicate.CheckDir(dir, stream); err != nil {
		t.Fatalf("a marked replica refused by CheckDir: %v", err)
	}
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	if err := replicate.CheckDir(dir, stream); err != nil {
		t.Fatalf("with its term file left, CheckDir refused the replica (%v): removing the marker alone would be enough", err)
	}
	if err := os.Remove(term); err != nil {
		t.Fatal(err)
	}
	if err := replicate.CheckDir(dir, stream); err == nil || !strings.Contains(err.Error(), "not a replica") {
		t.Fatalf("with both replica files removed CheckDir = %v, want the standalone bus refused", err)
	}
	addr, stderr, stop := startServe(t, "--addr", "127.0.0.1:0", "--dir", dir)
	if code, _, err := getAnswer("http://" + addr + "/readyz"); err != nil || code != 200 {
		t.Errorf("GET /readyz = %d, %v; want 200\n%s", code, err, stderr.String())
	}
	stop()
}
