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
