package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDumpKeepsReplacedFile: a --dump over an existing file that is
// interrupted (or fails) before the new program is complete leaves the old
// file as it was, and no temporary file beside it. Before, the file was
// truncated when the dump began and removed when it was interrupted: both
// the old program and the new one were gone. A dump that completes
// replaces the file and keeps its permissions; through a symbolic link it
// writes the file the link names, in place (the control).
func TestDumpKeepsReplacedFile(t *testing.T) {
	cfg := defaultConfig()
	cfg.Funcs = 20
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog.ir")
	old := []byte("func main frame=8\nend\n")
	if err := os.WriteFile(prog, old, 0o640); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := dumpProgram(ctx, prog, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted dump: %v, want context.Canceled", err)
	}
	got, err := os.ReadFile(prog)
	if err != nil {
		t.Fatalf("the file an interrupted dump would have replaced: %v", err)
	}
	if string(got) != string(old) {
		t.Fatalf("the file an interrupted dump would have replaced holds %q, want %q", got, old)
	}
	onlyFiles(t, dir, "prog.ir")

	// Control: an uninterrupted dump replaces it, directly (a new file
	// renamed over it, given its permissions) and through a link.
	if err := dumpProgram(context.Background(), prog, cfg); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if st, err := os.Stat(prog); err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("the replaced file: %v, %v; want it -rw-r-----", st, err)
	}
	onlyFiles(t, dir, "prog.ir")
	if err := os.WriteFile(prog, old, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.ir")
	if err := os.Symlink("prog.ir", link); err != nil {
		t.Fatal(err)
	}
	if err := dumpProgram(context.Background(), link, cfg); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link after a dump through it: %v, %v; want it still a link", st, err)
	}
	st, err := os.Stat(prog)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("the replaced file's permissions: %v, want -rw-r-----", st.Mode().Perm())
	}
	f, err := os.Open(prog)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(f)
	_ = f.Close() // read-only
	if err != nil || len(p.Funcs) != cfg.Funcs {
		t.Fatalf("the dumped program: %v, want %d functions", err, cfg.Funcs)
	}
	onlyFiles(t, dir, "link.ir", "prog.ir")
}

// onlyFiles fails the test unless dir holds exactly the names want (in
// os.ReadDir's sorted order).
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != len(want) {
		t.Fatalf("%s holds %q, want %q", dir, names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("%s holds %q, want %q", dir, names, want)
		}
	}
}

// TestDumpRefusesRunFlags: --dump writes the program and exits, so --plot
// and --json with it are refused (exit status 1) and nothing is written.
// Before, they were ignored: exit status 0, a dump, and no chart or JSON.
// --dump alone is the control.
func TestDumpRefusesRunFlags(t *testing.T) {
	cfg := defaultConfig()
	cfg.Funcs = 5
	for _, tc := range []struct {
		name   string
		plot   bool
		asJSON bool
		want   int
	}{
		{"with --plot", true, false, 1},
		{"with --json", false, true, 1},
		{"alone", false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out, plotDir := filepath.Join(dir, "out.ir"), ""
			if tc.plot {
				plotDir = filepath.Join(dir, "plots")
			}
			if got := runMain(context.Background(), cfg, out, plotDir, tc.asJSON); got != tc.want {
				t.Fatalf("runMain(--dump %s): exit status %d, want %d", tc.name, got, tc.want)
			}
			if tc.want == 0 {
				onlyFiles(t, dir, "out.ir")
			} else {
				onlyFiles(t, dir)
			}
		})
	}
}

// TestInterruptedRunLeavesNoPlotDir: a run interrupted before its charts
// exits with status 130 and leaves no --plot directory it made. Before,
// the directory made by the check before the run stayed, empty.
func TestInterruptedRunLeavesNoPlotDir(t *testing.T) {
	cfg := defaultConfig()
	cfg.Funcs, cfg.Edits, cfg.Repeats = 5, 1, 1
	plots := filepath.Join(t.TempDir(), "plots")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := runMain(ctx, cfg, "", plots, false); got != 130 {
		t.Fatalf("interrupted run: exit status %d, want 130", got)
	}
	if _, err := os.Stat(plots); !os.IsNotExist(err) {
		t.Fatalf("the interrupted run left %s (%v)", plots, err)
	}
}
