package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplicationDirTrailingSlash: without --nats a node keeps its
// embedded nats-server's store in DIR.nats, beside DIR. `--dir DIR/` (a
// shell's completion adds the slash) made it DIR/.nats, inside the bus
// directory, and a later run given DIR without the slash started from
// another, empty store. The slash now changes nothing. The run is
// interrupted (a context canceled first): the store is made before the
// node starts.
func TestReplicationDirTrailingSlash(t *testing.T) {
	for _, args := range [][]string{
		{"replicate", "--status-every", "0"},
		{"serve", "--replicate", "--addr", "127.0.0.1:0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr strings.Builder
			run(ctx, append(args, "--dir", dir+"/"), &stdout, &stderr)
			if _, err := os.Stat(filepath.Join(dir, ".nats")); !os.IsNotExist(err) {
				t.Errorf("the store was made inside the bus directory, %s/.nats (stat: %v)\n%s", dir, err, stderr.String())
			}
			if _, err := os.Stat(dir + ".nats"); err != nil {
				t.Errorf("no store beside the bus directory: %v\n%s", err, stderr.String())
			}
		})
	}
}

// TestReplicationDirDot: `--dir .` (a node run in its bus directory) made
// the embedded server's store "..nats" ("." + ".nats"), inside the bus
// directory, as the trailing slash did (TestReplicationDirTrailingSlash);
// `--dir ..` made it "...nats" inside that one. A DIR whose last element
// is . or .. is made absolute, so that the store lies beside it as
// DIR.nats.
func TestReplicationDirDot(t *testing.T) {
	for _, args := range [][]string{
		{"replicate", "--status-every", "0"},
		{"serve", "--replicate", "--addr", "127.0.0.1:0"},
	} {
		t.Run(args[0], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr strings.Builder
			run(ctx, append(args, "--dir", "."), &stdout, &stderr)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".nats") {
					t.Errorf("the store was made inside the bus directory, %s/%s\n%s", dir, e.Name(), stderr.String())
				}
			}
			if _, err := os.Stat(dir + ".nats"); err != nil {
				t.Errorf("no store beside the bus directory: %v\n%s", err, stderr.String())
			}
		})
	}
}
