package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// treeOf lists every path under dir with its size, so that a test can
// tell whether a command that promises to only read dir added, removed or
// resized anything in it.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		size := info.Size()
		if d.IsDir() {
			size = 0 // a directory's size is the file system's business
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel+" "+itoa(uint64(size)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayRefusesOutInsideSource: replay promises to only read DIR, so
// an --out inside it (directly, below a subdirectory, or through a
// symbolic link) is refused as a usage error before anything is written.
// So is DIR itself, named again or through a link: it was refused as
// "output directory is not empty" with exit 1 (the emptiness check ran
// first).
func TestReplayRefusesOutInsideSource(t *testing.T) {
	tb := newTestBus(t)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(tb.dir, link); err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, tb.dir)
	for _, tc := range []struct {
		name string
		out  string
		want string
	}{
		{"subdirectory", filepath.Join(tb.dir, "copy"), "inside"},
		{"below wal", filepath.Join(tb.dir, "wal", "copy"), "inside"},
		{"dot dot back in", filepath.Join(tb.dir, "wal", "..", "copy"), "inside"},
		{"through a symlink", filepath.Join(link, "copy"), "inside"},
		{"the source itself", tb.dir, "must differ from DIR"},
		{"the source through dot dot", filepath.Join(tb.dir, "wal", ".."), "must differ from DIR"},
		{"a symlink to the source", link, "must differ from DIR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "replay", tb.dir, "--out", tc.out).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, "--out") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not say that --out is or lies inside DIR (%q)", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("a refused replay wrote to stdout: %q", r.stdout)
			}
			if after := treeOf(t, tb.dir); !slices.Equal(before, after) {
				t.Fatalf("replay modified its source:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
	// A sibling whose name merely starts with the source's is not inside it.
	sibling := tb.dir + "-copy"
	runCLI(t, "replay", tb.dir, "--out", sibling).mustCode(t, exitOK)
}
