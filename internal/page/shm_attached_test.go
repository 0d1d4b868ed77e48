//go:build linux

package page

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProcessesMapping: a file this process maps is counted once (however
// many mappings), not when this process is excluded, and a file nobody
// maps is not counted (the control).
func TestProcessesMapping(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mapped")
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "mapped-not")
	if err := os.WriteFile(other, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		m, err := mapRO(path, -1, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unmap(m) })
	}
	for _, c := range []struct {
		path   string
		except int
		want   int
	}{
		{path, -1, 1},
		{path, os.Getpid(), 0},
		{other, -1, 0},
		{path[:len(path)-1], -1, 0}, // a prefix of a mapped path is another file
	} {
		got, err := ProcessesMapping(c.path, c.except)
		if err != nil || got != c.want {
			t.Errorf("ProcessesMapping(%s, %d) = %d, %v; want %d", c.path, c.except, got, err, c.want)
		}
	}
}

// BenchmarkProcessesMapping: one scan of every process's maps (what
// Bus.SharedReaders costs at most once per SharedReadersEvery).
func BenchmarkProcessesMapping(b *testing.B) {
	path := filepath.Join(b.TempDir(), "mapped")
	for b.Loop() {
		if _, err := ProcessesMapping(path, -1); err != nil {
			b.Fatal(err)
		}
	}
	if ents, err := os.ReadDir("/proc"); err == nil {
		b.ReportMetric(float64(len(ents)), "proc-entries")
	}
}

// TestProcessesMappingThroughLink: a file mapped through its real path is
// counted when named through a directory link, as a SharedDir that is (or
// lies under) a symbolic link names it: /proc/PID/maps shows the path
// with links resolved. Before, it was not counted (control:
// "ProcessesMapping(.../link/mapped, -1) = 0, <nil>; want 1"), and
// Bus.SharedReaders said 0 with readers attached.
func TestProcessesMappingThroughLink(t *testing.T) {
	dir := t.TempDir()
	realDir := filepath.Join(dir, "real")
	if err := os.Mkdir(realDir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(realDir, "mapped")
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(realDir, link); err != nil {
		t.Fatal(err)
	}
	m, err := mapRO(path, -1, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmap(m) })
	// One scan (each reads every process's maps): the exclusion and the
	// unmapped file are TestProcessesMapping's.
	named := filepath.Join(link, "mapped")
	if got, err := ProcessesMapping(named, -1); err != nil || got != 1 {
		t.Errorf("ProcessesMapping(%s, -1) = %d, %v; want 1", named, got, err)
	}
}
