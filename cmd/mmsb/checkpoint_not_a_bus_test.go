package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckpointRefusesDirectoryWithoutBus: `mmsb checkpoint` pointed at
// another program's directory that happens to have a wal/ (a Prometheus
// data directory: wal/00000001, a lock file, chunks_head/) wrote LOCK,
// checkpoints/ and a log segment into it beside that program's files and
// exited 0. It now refuses a directory in which no bus ran (exit 1,
// naming it) and changes nothing there; a bus that never committed, or
// that was opened without a log, is still a bus.
func TestCheckpointRefusesDirectoryWithoutBus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // path under DIR: content ("/" at the end: a directory)
	}{
		{"another program's wal/", map[string]string{"wal/00000001": "not ours", "lock": "", "chunks_head/": ""}},
		{"wal/ holding no segment", map[string]string{"wal/notes.txt": "x"}},
		{"empty wal/", map[string]string{"wal/": ""}},
		{"checkpoints/ holding no checkpoint", map[string]string{"checkpoints/list.txt": "x", "README": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "other")
			for name, content := range tc.files {
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
			before := listTree(t, dir)
			r := runCLI(t, "checkpoint", dir).mustCode(t, exitFailure)
			if !strings.Contains(r.stderr, "not an MMSB data directory: "+dir) || !strings.Contains(r.stderr, "nothing was changed") || r.stdout != "" {
				t.Errorf("stderr %q (stdout %q), want it to name %s as no data directory", r.stderr, r.stdout, dir)
			}
			if after := listTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("the refused checkpoint changed %s:\nbefore %q\nafter  %q", dir, before, after)
			}
		})
	}

	for _, tc := range []struct {
		name string
		opts *mmsb.Options
	}{
		{"bus that never committed", nil},
		{"bus opened without a log", &mmsb.Options{DisableLog: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			bus, err := mmsb.Open(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			r := runCLI(t, "checkpoint", dir)
			if strings.Contains(r.stderr, "no bus ran there") {
				t.Fatalf("a bus made by mmsb.Open refused as no bus (exit %d):\n%s", r.code, r.stderr)
			}
		})
	}
}

// listTree lists every path under dir with its size, sorted.
func listTree(t *testing.T, dir string) []string {
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
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out = append(out, rel+"/")
		} else {
			out = append(out, fmt.Sprintf("%s %d", rel, info.Size()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestReadOnlyCommandsRefuseDirectoryWithoutBus: check, inspect and graph
// on another program's directory that has a wal/ said "OK: DIR" (check)
// or showed an empty bus, exit 0, as if an MMSB bus with nothing in it
// were there. They now say it is not an MMSB data directory (exit 1), as
// checkpoint does; a bus mmsb.Open made that never committed still reads
// as an empty bus.
func TestReadOnlyCommandsRefuseDirectoryWithoutBus(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other")
	for _, d := range []string{"wal", "chunks_head"} {
		if err := os.MkdirAll(filepath.Join(other, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(other, "wal", "00000001"), []byte("not ours"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	bus, err := mmsb.Open(empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "inspect", "graph"} {
		r := runCLI(t, cmd, other).mustCode(t, exitFailure)
		if !strings.Contains(r.stderr, "not an MMSB data directory: "+other) || !strings.Contains(r.stderr, "no bus ran there") || r.stdout != "" {
			t.Errorf("%s: stderr %q (stdout %q), want %s named as no data directory", cmd, r.stderr, r.stdout, other)
		}
		runCLI(t, cmd, empty).mustCode(t, exitOK)
	}
	// read and replay too (TestReadAndReplayRefuseDirectoryWithoutBus).
}

// TestReadAndReplayRefuseDirectoryWithoutBus: read and replay refuse
// another program's directory that has a wal/ (`mkdir -p prom/wal`) as
// check, inspect and graph do (TestReadOnlyCommandsRefuseDirectoryWithoutBus).
// read said "page not found: page 1", and replay wrote an empty bus into
// --out and exited 0. The control: a bus mmsb.Open made that never
// committed is read (its page 1 is not found) and replayed.
func TestReadAndReplayRefuseDirectoryWithoutBus(t *testing.T) {
	other := filepath.Join(t.TempDir(), "prom")
	if err := os.MkdirAll(filepath.Join(other, "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	bus, err := mmsb.Open(empty, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{{"read", "--page", "1"}, {"replay", "--out", out}} {
		r := runCLI(t, append([]string{args[0], other}, args[1:]...)...).mustCode(t, exitFailure)
		if !strings.Contains(r.stderr, "not an MMSB data directory: "+other) || !strings.Contains(r.stderr, "no bus ran there") || r.stdout != "" {
			t.Errorf("%s: stderr %q (stdout %q), want %s named as no data directory", args[0], r.stderr, r.stdout, other)
		}
	}
	if _, err := os.Lstat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused replay made %s (%v)", out, err)
	}
	if r := runCLI(t, "read", empty, "--page", "1"); strings.Contains(r.stderr, "no bus ran there") || !strings.Contains(r.stderr, "page not found") {
		t.Errorf("read of a bus that never committed: stderr %q, want page 1 not found", r.stderr)
	}
	runCLI(t, "replay", empty, "--out", out).mustCode(t, exitOK)
}
