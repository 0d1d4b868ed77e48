package docs

import (
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// pipRE matches a pip command a page shows, to the end of its code span
// or line.
var pipRE = regexp.MustCompile("pip (?:wheel|install|download)[^`\n]*")

// pipValueFlags are pip options that take the next word as their value.
var pipValueFlags = map[string]bool{
	"-w": true, "--wheel-dir": true, "-r": true, "--requirement": true,
	"-c": true, "--constraint": true, "-f": true, "--find-links": true,
	"-i": true, "--index-url": true, "-t": true, "--target": true,
}

// TestPipCommandsNameDirectoriesAsPaths checks that every pip command a
// page shows names a directory of the repository as a path ("./python"),
// not as a bare word: pip reads a bare "python" as the name of a package
// to find in an index, and the command failed with "No matching
// distribution found for python" (docs/bindings.md's wheel build).
func TestPipCommandsNameDirectoriesAsPaths(t *testing.T) {
	pages := markdownPages(t, os.DirFS(repoRoot))
	if bad := barePipDirs(pages, os.DirFS(repoRoot)); len(bad) > 0 {
		t.Errorf("pip commands naming a repository directory without ./ (pip looks the word up in an index):\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestPipCheckCatchesBareDirectory is the negative control: the command
// docs/bindings.md showed before is caught, its fix is not.
func TestPipCheckCatchesBareDirectory(t *testing.T) {
	repo := fstest.MapFS{"python/pyproject.toml": {Data: []byte("[project]\n")}}
	old := map[string]string{"docs/x.md": "`/usr/bin/python3 -m pip wheel --no-build-isolation --no-deps --no-index -w dist python`"}
	if bad := barePipDirs(old, repo); len(bad) != 1 || !strings.Contains(bad[0], `"python"`) {
		t.Errorf("the old command was not caught: %q", bad)
	}
	fixed := map[string]string{"docs/x.md": "`/usr/bin/python3 -m pip wheel --no-build-isolation --no-deps --no-index -w build/dist ./python`"}
	if bad := barePipDirs(fixed, repo); len(bad) != 0 {
		t.Errorf("the fixed command was reported: %q", bad)
	}
}

// barePipDirs lists, sorted, each pip command of pages with an argument
// that is a bare word naming a directory of repo.
func barePipDirs(pages map[string]string, repo fs.FS) []string {
	var bad []string
	for name, text := range pages {
		for _, cmd := range pipRE.FindAllString(text, -1) {
			words := strings.Fields(cmd)[2:] // after "pip wheel"
			for i, w := range words {
				if strings.HasPrefix(w, "-") || (i > 0 && pipValueFlags[words[i-1]]) {
					continue
				}
				if strings.ContainsAny(w, "/.") {
					continue // a path, a file name or a URL
				}
				if st, err := fs.Stat(repo, w); err == nil && st.IsDir() {
					bad = append(bad, name+": "+strings.TrimSpace(cmd)+": \""+w+"\"")
				}
			}
		}
	}
	slices.Sort(bad)
	return bad
}
