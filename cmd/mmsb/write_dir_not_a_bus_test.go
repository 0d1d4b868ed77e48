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
		// What a fresh mount holds does not hide another program's files
		// beside it, and a dotfile of a mount's name but not its kind
		// (a regular file .snapshot) is someone's.
		{"a mount's snapshots beside a program's data", map[string]string{".snapshot/": "", "data.db": "x"}, "data.db"},
		{"a file named like a mount's directory", map[string]string{".snapshot": "x"}, ".snapshot"},
		{"only a home directory's dotfile", map[string]string{".profile": "x"}, ".profile"},
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
		// A mount point holding only what its filesystem, file server or
		// a desktop made there (TestWritingCommandsAcceptFreshMount).
		{"an NFS mount's snapshots", map[string]string{".snapshot/": ""}},
		{"a snapper btrfs root", map[string]string{".snapshots/": "", "lost+found/": ""}},
		{"a ZFS dataset with a visible snapdir", map[string]string{".zfs/snapshot/": ""}},
		{"a removable disk's trash", map[string]string{".Trash-1000/files/": "", ".Trash/": ""}},
		{"a disk a Mac used", map[string]string{".DS_Store": "x", ".Spotlight-V100/": "", ".fseventsd/": "", ".Trashes/": "", ".TemporaryItems/": "", ".DocumentRevisions-V100/": ""}},
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

// TestWritingCommandsAcceptFreshMount: a mount point that holds only what
// a fresh filesystem or mount holds (here an NFS server's .snapshot
// directory and a desktop's .Trash-1000) is a new place for a bus: serve
// --dir refused it as another program's directory ("it holds .snapshot,
// and no bus") until 2026-12-07. serve now gets past the check and makes
// its bus there (it fails only on its missing --token-file, checked after
// --dir, so nothing starts and the mount is left as it was).
func TestWritingCommandsAcceptFreshMount(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mnt")
	makeTree(t, dir, map[string]string{".snapshot/": "", ".Trash-1000/": ""})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr strings.Builder
	code := run(ctx, []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--token-file", filepath.Join(t.TempDir(), "no-such-token")}, &stdout, &stderr)
	if strings.Contains(stderr.String(), "not an MMSB data directory") {
		t.Fatalf("a fresh mount refused (exit %d): %s", code, stderr.String())
	}
	if code != exitUsage || !strings.Contains(stderr.String(), "--token-file") {
		t.Errorf("exit %d, want the --token-file refusal (exit %d) that follows the --dir check:\n%s", code, exitUsage, stderr.String())
	}
}

// TestWritingCommandsAcceptLogOnFreshDisk: wal/ (or checkpoints/) as a
// symbolic link to the root of a disk of its own, made before the first
// Open, holds what a fresh filesystem holds (lost+found): the writing
// commands refused the directory as another program's ("it holds
// wal/lost+found, and no bus") until 2026-12-07, though the same entry in
// DIR itself was accepted. A file that is no bus's in the linked wal/ is
// still refused.
func TestWritingCommandsAcceptLogOnFreshDisk(t *testing.T) {
	for _, sub := range []string{"wal", "checkpoints"} {
		t.Run(sub, func(t *testing.T) {
			root := t.TempDir()
			dir, disk := filepath.Join(root, "data"), filepath.Join(root, "disk")
			makeTree(t, disk, map[string]string{"lost+found/": ""})
			makeTree(t, dir, nil)
			if err := os.Symlink(disk, filepath.Join(dir, sub)); err != nil {
				t.Fatal(err)
			}
			if err := requireBusDirToWrite(dir); err != nil {
				t.Errorf("refused: %v", err)
			}
			makeTree(t, disk, map[string]string{"notes.txt": "x"})
			if err := requireBusDirToWrite(dir); !errors.Is(err, errNotDataDir) || !strings.Contains(err.Error(), sub+"/notes.txt") {
				t.Errorf("%s/notes.txt: %v, want it refused naming it", sub, err)
			}
		})
	}
}
