package docs

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureNamesEveryPackage checks that the package table of
// docs/architecture.md ("| Package | Concern |") names every directory of
// the repository holding Go files, so that a package added (or moved)
// without a row cannot leave the page's map of the tree behind it. A row
// names packages in code spans in its first cell; `mmsb` (root) is the
// repository's root, `X/...` every directory below X.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	dirs := goDirs(t, os.DirFS(repoRoot))
	if len(dirs) < 20 {
		t.Fatalf("found %d directories holding Go files: is the walk reading the repository?", len(dirs))
	}
	names := packageTableNames(string(page))
	if len(names) < 20 {
		t.Fatalf("found %d names in the package table: is its header still \"| Package | Concern |\"?", len(names))
	}
	if missing := unlistedDirs(dirs, names); len(missing) > 0 {
		t.Errorf("docs/architecture.md's package table has no row for: %s", strings.Join(missing, ", "))
	}
}

// TestArchitectureCheckCatchesUnlistedPackage is the negative control of
// the test above: a directory the table does not name is reported; one it
// names, the root as `mmsb`, and one below a `X/...` row are not, and a
// code span outside the table's first column names nothing.
func TestArchitectureCheckCatchesUnlistedPackage(t *testing.T) {
	page := "## Packages\n\n| Package | Concern |\n|---|---|\n" +
		"| `mmsb` (root) | the bus |\n| `internal/page`, `internal/tlog` | store, log |\n" +
		"| `examples/...` | examples |\n| `cmd/mmsb` | the CLI, not `internal/graph` |\n\nAfter the table: `internal/wire`.\n"
	names := packageTableNames(page)
	if want := []string{"mmsb", "internal/page", "internal/tlog", "examples/...", "cmd/mmsb"}; !slices.Equal(names, want) {
		t.Fatalf("table names = %q, want %q", names, want)
	}
	dirs := []string{".", "cmd/mmsb", "examples/game-ai", "internal/graph", "internal/page", "internal/tlog", "internal/wire"}
	if got, want := unlistedDirs(dirs, names), []string{"internal/graph", "internal/wire"}; !slices.Equal(got, want) {
		t.Errorf("unlisted = %q, want %q", got, want)
	}
}

// goDirs returns, sorted, the directories of fsys holding a .go file,
// leaving out testdata, node_modules and hidden directories (bench/peers,
// a module of its own, is in: the table names it).
func goDirs(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && (name == "testdata" || strings.HasPrefix(name, ".") || name == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".go") {
			seen[path.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for d := range seen {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	return dirs
}

// packageTableNames returns the code spans of the first cell of each row
// of the page's package table, in page order.
func packageTableNames(page string) []string {
	var names []string
	in := false
	for _, line := range strings.Split(page, "\n") {
		switch {
		case strings.HasPrefix(line, "| Package | Concern |"):
			in = true
			continue
		case !in:
			continue
		case !strings.HasPrefix(line, "|"):
			return names
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, s := range codeSpanRE.FindAllString(cells[1], -1) {
			names = append(names, strings.Trim(s, "`"))
		}
	}
	return names
}

// unlistedDirs lists, in dirs' order, the directories no name covers:
// the name itself, `mmsb` for the root, or a `X/...` above it.
func unlistedDirs(dirs, names []string) []string {
	var missing []string
	for _, d := range dirs {
		covered := slices.ContainsFunc(names, func(n string) bool {
			if prefix, ok := strings.CutSuffix(n, "/..."); ok {
				return d == prefix || strings.HasPrefix(d, prefix+"/")
			}
			return n == d || d == "." && n == "mmsb"
		})
		if !covered {
			missing = append(missing, d)
		}
	}
	return missing
}
