package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// makeTree makes dir holding files (path under dir: content; "/" at the
// end: a directory).
func makeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(name, "/")))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWritingCommandsRefuseAnotherProgramsDirectory: the commands that
// open a bus for writing in --dir made one in any directory: `mmsb
// replicate --dir ~` (and follow, serve --replicate, serve) claimed a home
// directory, or another program's data directory, and bootstrapped a bus
// among its files. They now refuse, as mmsb checkpoint does, a --dir that
// exists, is not empty and holds no bus: a usage error (exit 2) naming
// --dir, the directory and a file no bus made, before anything starts
// (no DIR.nats, nothing on stdout, the directory as it was).
func TestWritingCommandsRefuseAnotherProgramsDirectory(t *testing.T) {
	nats := "nats://127.0.0.1:1" // nothing listens: a run that gets past the check fails connecting
	commands := []struct {
		name string
		args func(dir string) []string
	}{
		{"replicate", func(dir string) []string {
			return []string{"replicate", "--dir", dir, "--duration", "2s", "--status-every", "0"}
		}},
		{"follow", func(dir string) []string {
			return []string{"follow", "--nats", nats, "--dir", dir, "--status-every", "0"}
		}},
		{"serve --replicate", func(dir string) []string {
			return []string{"serve", "--replicate", "--nats", nats, "--dir", dir, "--addr", "127.0.0.1:0"}
		}},
		{"serve", func(dir string) []string {
			return []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0"}
		}},
	}
	dirs := []struct {
		name  string
		files map[string]string
		named string // a file the error names
	}{
		{"home directory", map[string]string{".bashrc": "x", "Documents/": "", "notes.txt": "x"}, ".bashrc"},
		{"Prometheus data", map[string]string{"wal/00000001": "not ours", "lock": "", "chunks_head/": ""}, "chunks_head"},
		{"LevelDB data", map[string]string{"LOCK": "", "CURRENT": "MANIFEST-000001\n", "MANIFEST-000001": "x"}, "CURRENT"},
		{"only another program's wal/", map[string]string{"wal/00000001": "not ours"}, "wal/00000001"},
	}
	for _, c := range commands {
		for _, d := range dirs {
			t.Run(c.name+"/"+d.name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "other")
				makeTree(t, dir, d.files)
				before := listTree(t, dir)
				// A deadline ends a command that starts instead of refusing.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var stdout, stderr strings.Builder
				code := run(ctx, c.args(dir), &stdout, &stderr)
				if code != exitUsage {
					t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout.String(), stderr.String())
				}
				for _, want := range []string{"--dir " + dir + ": not an MMSB data directory", d.named, "nothing was changed"} {
					if !strings.Contains(stderr.String(), want) {
						t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
					}
				}
				if stdout.Len() > 0 {
					t.Errorf("a refused command printed on stdout: %q", stdout.String())
				}
				if after := listTree(t, dir); !slices.Equal(after, before) {
					t.Errorf("the refused command changed %s:\nbefore %q\nafter  %q", dir, before, after)
				}
				if _, err := os.Stat(dir + ".nats"); !os.IsNotExist(err) {
					t.Errorf("a refused command created %s.nats (stat: %v)", dir, err)
				}
			})
		}
	}
}

// TestWritingCommandsAcceptNewEmptyOrBusDirectory: the refusal above
// (requireBusDirToWrite) accepts every directory a bus may be made or
// opened in: a new one, an empty one (a fresh filesystem's root, with
// lost+found, too), the leftovers of a first Open or of a node's first
// marker that crashed, a replication node's directory, and every kind of
// real bus that mmsb checkpoint accepts (realBusKinds).
func TestWritingCommandsAcceptNewEmptyOrBusDirectory(t *testing.T) {
	dirs := []struct {
		name  string
		files map[string]string
	}{
		{"empty", map[string]string{}},
		{"a fresh filesystem's root", map[string]string{"lost+found/": ""}},
		{"a first Open that crashed", map[string]string{"LOCK": "", "wal/00000000000000000001.log.tmp": "", "checkpoints/log-mode.tmp": ""}},
		{"a node's first marker that crashed", map[string]string{"replicate-stream.tmp": ""}},
		{"a node's directory", map[string]string{"replicate-stream": "mmsb-replica MMSB_LOG_mmsb\n", "notes.txt": "x"}},
	}
	for _, d := range dirs {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			makeTree(t, dir, d.files)
			if err := requireBusDirToWrite(dir); err != nil {
				t.Errorf("refused: %v\nfiles: %q", err, listTree(t, dir))
			}
		})
	}
	// wal/ (or checkpoints/) as a symbolic link to a disk of its own,
	// made before the first Open (docs/operations.md): refused as
	// "it holds wal, and no bus" until 2026-12-07.
	for _, sub := range []string{"wal", "checkpoints"} {
		t.Run(sub+" linked to another disk", func(t *testing.T) {
			root := t.TempDir()
			dir, disk := filepath.Join(root, "data"), filepath.Join(root, "disk", sub)
			makeTree(t, disk, nil)
			makeTree(t, dir, nil)
			if err := os.Symlink(disk, filepath.Join(dir, sub)); err != nil {
				t.Fatal(err)
			}
			if err := requireBusDirToWrite(dir); err != nil {
				t.Errorf("refused: %v", err)
			}
		})
	}
	t.Run("new", func(t *testing.T) {
		if err := requireBusDirToWrite(filepath.Join(t.TempDir(), "new", "data")); err != nil {
			t.Errorf("refused: %v", err)
		}
	})
	for _, kind := range realBusKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir := kind.make(t)
			// A bus is a bus beside files of its operator's too.
			makeTree(t, dir, map[string]string{"README": "x"})
			if err := requireBusDirToWrite(dir); err != nil {
				t.Errorf("a bus made by mmsb.Open refused: %v\nfiles: %q", err, listTree(t, dir))
			}
		})
	}
	// And the refusal is one a caller can test for.
	dir := filepath.Join(t.TempDir(), "other")
	makeTree(t, dir, map[string]string{"notes.txt": "x"})
	if err := requireBusDirToWrite(dir); !errors.Is(err, errNotDataDir) || !errors.Is(err, errUsage) {
		t.Errorf("another program's directory: %v, want errNotDataDir and errUsage", err)
	}
}
