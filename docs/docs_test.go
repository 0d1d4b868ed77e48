package docs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// repoRoot is the repository seen from this package's directory.
const repoRoot = ".."

// TestLinksResolve checks every relative link of every Markdown page in
// the repository: the file it names exists, and a #fragment names a
// heading of that page (GitHub's anchors).
func TestLinksResolve(t *testing.T) {
	pages := markdownPages(t, os.DirFS(repoRoot))
	if problems := brokenLinks(pages); len(problems) > 0 {
		t.Errorf("%d broken links:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// TestNamedTestsExist checks that every Go test, fuzz target, benchmark
// and example the pages name (a negative control, a figure's command) is
// defined in some _test.go file, and every Python test_ function a page
// names in backquotes is defined in some .py file.
func TestNamedTestsExist(t *testing.T) {
	fsys := os.DirFS(repoRoot)
	pages := markdownPages(t, fsys)
	defined := definedTests(t, fsys)
	if problems := missingTests(pages, defined); len(problems) > 0 {
		t.Errorf("%d names of tests that do not exist:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
}

// TestChecksCatchBadPages is the negative control of the two tests above:
// pages with a link to a missing file, to a missing heading, to a heading
// of another page, and naming tests that do not exist are each reported,
// and their correct counterparts are not.
func TestChecksCatchBadPages(t *testing.T) {
	pages := map[string]string{
		"README.md": "See [the formats](docs/formats.md#log-record-payload-internalrecord), " +
			"[gone](docs/gone.md), [no heading](docs/formats.md#no-such-heading), " +
			"[here](#usage), [not here](#install) and [site](https://example.com/x.md).\n\n## Usage\n",
		"docs/formats.md": "# File formats\n\n## Log record payload (internal/record)\n\n" +
			"`TestRoundTrip` and `FuzzDecode` hold; `TestRoundTripp` does not, nor `test_python_missing`; `test_reader_ok` does. " +
			"`BenchmarkCommit{1,2}W` and -run 'TestRound' are patterns of defined names, `BenchmarkGone{1,2}W` and `test_gone_*` are not.\n",
	}
	wantLinks := []string{
		"README.md: [gone](docs/gone.md): docs/gone.md does not exist",
		"README.md: [no heading](docs/formats.md#no-such-heading): docs/formats.md has no heading #no-such-heading",
		"README.md: [not here](#install): README.md has no heading #install",
	}
	if got := brokenLinks(pages); !slices.Equal(got, wantLinks) {
		t.Errorf("broken links = %q\nwant %q", got, wantLinks)
	}
	defined := map[string]bool{"TestRoundTrip": true, "FuzzDecode": true, "test_reader_ok": true, "BenchmarkCommit1W": true}
	wantTests := []string{
		"docs/formats.md: BenchmarkGone",
		"docs/formats.md: TestRoundTripp",
		"docs/formats.md: test_gone_",
		"docs/formats.md: test_python_missing",
	}
	if got := missingTests(pages, defined); !slices.Equal(got, wantTests) {
		t.Errorf("missing tests = %q\nwant %q", got, wantTests)
	}
}

// TestAnchorsFollowGitHub pins the heading-to-anchor rule on headings of
// the kinds these pages use.
func TestAnchorsFollowGitHub(t *testing.T) {
	for _, c := range []struct{ heading, want string }{
		{"Log record payload (internal/record)", "log-record-payload-internalrecord"},
		{"`mmsb bench`", "mmsb-bench"},
		{"Steal, the device's floor (issue 15 item 1; 2026-12-02, 04:10–05:30 UTC)", "steal-the-devices-floor-issue-15-item-1-2026-12-02-04100530-utc"},
		{"Item 4, side by side", "item-4-side-by-side"},
		{"snake_case and *emphasis*", "snake_case-and-emphasis"},
	} {
		if got := anchor(c.heading); got != c.want {
			t.Errorf("anchor(%q) = %q, want %q", c.heading, got, c.want)
		}
	}
}

// markdownPages reads every .md file of the repository (not below
// testdata, node_modules or hidden directories), by slash path.
func markdownPages(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	pages := make(map[string]string)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".md") {
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			pages[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pages["README.md"]; !ok || len(pages) < 10 {
		t.Fatalf("found %d Markdown pages and no README.md: is %s the repository?", len(pages), repoRoot)
	}
	return pages
}

var (
	// linkRE matches an inline link or image: [text](target).
	linkRE = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)\s]+)\)`)
	// fenceRE matches a fenced code block, whose text is not Markdown.
	fenceRE = regexp.MustCompile("(?ms)^\\s*```.*?^\\s*```")
	// codeSpanRE matches an inline code span.
	codeSpanRE = regexp.MustCompile("`[^`\n]*`")
	// headingRE matches an ATX heading.
	headingRE = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
)

// brokenLinks lists, sorted, every relative link of pages whose file or
// heading does not exist. Links to other sites are not fetched.
func brokenLinks(pages map[string]string) []string {
	anchors := make(map[string]map[string]bool, len(pages))
	for p, text := range pages {
		anchors[p] = headingAnchors(text)
	}
	var problems []string
	for p, text := range pages {
		text = fenceRE.ReplaceAllString(text, "")
		text = codeSpanRE.ReplaceAllString(text, "")
		for _, m := range linkRE.FindAllStringSubmatch(text, -1) {
			target := m[2]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := p
			if file != "" {
				dest = path.Clean(path.Join(path.Dir(p), file))
				if _, ok := pages[dest]; !ok {
					if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(dest))); err != nil {
						problems = append(problems, fmt.Sprintf("%s: %s: %s does not exist", p, m[0], dest))
						continue
					}
				}
			}
			if frag == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			if !anchors[dest][frag] {
				problems = append(problems, fmt.Sprintf("%s: %s: %s has no heading #%s", p, m[0], dest, frag))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// headingAnchors returns the anchors GitHub gives a page's headings,
// repeats numbered -1, -2, ... as GitHub does.
func headingAnchors(text string) map[string]bool {
	text = fenceRE.ReplaceAllString(text, "")
	seen := make(map[string]int)
	out := make(map[string]bool)
	for _, m := range headingRE.FindAllStringSubmatch(text, -1) {
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// anchor is GitHub's anchor for a heading: the heading's text (links and
// emphasis reduced to their words) in lower case, without anything but
// letters, marks, digits, underscores, hyphens and spaces, spaces made
// hyphens.
func anchor(heading string) string {
	heading = linkRE.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	// goTestNameRE matches the name of a Go test, fuzz target, benchmark
	// or example as the pages write it, and the character after it: a
	// name followed by one of {*'"| is a pattern's prefix
	// (BenchmarkCommitGaps{1,2}W, test_unavailable_chunk_*, -run 'TestX').
	goTestNameRE = regexp.MustCompile(`\b((?:Test|Fuzz|Benchmark|Example)[A-Z][A-Za-z0-9_]*)([{*'"|]?)`)
	// pyTestNameRE matches a pytest function named in a code span.
	pyTestNameRE = regexp.MustCompile("`(test_[a-z0-9_]+)([{*]?)")
	// goTestFuncRE and pyTestFuncRE match their definitions.
	goTestFuncRE = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz|Benchmark|Example)[A-Za-z0-9_]*)\(`)
	pyTestFuncRE = regexp.MustCompile(`(?m)^\s*def (test_[a-z0-9_]+)\(`)
)

// missingTests lists, sorted, "page: name" for every test name a page
// writes that defined does not hold (for a pattern's prefix: that no
// defined name starts with).
func missingTests(pages map[string]string, defined map[string]bool) []string {
	var problems []string
	for p, text := range pages {
		matches := goTestNameRE.FindAllStringSubmatch(text, -1)
		matches = append(matches, pyTestNameRE.FindAllStringSubmatch(text, -1)...)
		seen := make(map[string]bool)
		for _, m := range matches {
			name, prefix := m[1], m[2] != ""
			if seen[name] {
				continue
			}
			seen[name] = true
			if !defined[name] && (!prefix || !definesPrefix(defined, name)) {
				problems = append(problems, p+": "+name)
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// definesPrefix reports whether a defined name starts with prefix.
func definesPrefix(defined map[string]bool, prefix string) bool {
	for n := range defined {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// definedTests returns the names of every test function defined in the
// repository's Go test files and Python files.
func definedTests(t *testing.T, fsys fs.FS) map[string]bool {
	t.Helper()
	defined := make(map[string]bool)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
				return fs.SkipDir
			}
			return nil
		}
		var re *regexp.Regexp
		switch {
		case strings.HasSuffix(p, "_test.go"):
			re = goTestFuncRE
		case strings.HasSuffix(p, ".py"):
			re = pyTestFuncRE
		default:
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return defined
}

// TestDependenciesPageNamesEveryModule checks that docs/dependencies.md
// names, in a code span, every module go.mod requires directly (each one
// not marked indirect): the page is where a reader learns why a module is
// here, and a module added without a row went unexplained.
func TestDependenciesPageNamesEveryModule(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "dependencies.md"))
	if err != nil {
		t.Fatal(err)
	}
	mods := directModules(string(gomod))
	if len(mods) < 5 {
		t.Fatalf("found %d direct modules in go.mod: is the parser reading it?", len(mods))
	}
	if missing := unexplainedModules(mods, string(page)); len(missing) > 0 {
		t.Errorf("docs/dependencies.md has no row for these modules go.mod requires: %s", strings.Join(missing, ", "))
	}
}

// TestDependenciesCheckCatchesMissingModule is the negative control of the
// test above: a direct module the page does not name is reported, in a
// require block or on a require line of its own; an indirect one, and one
// the page names by a package below it, are not.
func TestDependenciesCheckCatchesMissingModule(t *testing.T) {
	gomod := "module example.com/m\n\ngo 1.26\n\nrequire (\n\ta.example/one v1.0.0\n" +
		"\tb.example/two v1.0.0 // indirect\n\tc.example/three/v2 v2.0.0\n\td.example/sys v0.1.0\n)\n\n" +
		"require e.example/five v0.1.0\n"
	page := "| `a.example/one` | why |\n| `c.example/three` | not the /v2 module |\n" +
		"| `d.example/sys/unix` | a package of it |\n| a.example/five, not in a code span | |\n"
	mods := directModules(gomod)
	if want := []string{"a.example/one", "c.example/three/v2", "d.example/sys", "e.example/five"}; !slices.Equal(mods, want) {
		t.Fatalf("direct modules = %q, want %q", mods, want)
	}
	if got, want := unexplainedModules(mods, page), []string{"c.example/three/v2", "e.example/five"}; !slices.Equal(got, want) {
		t.Errorf("unexplained modules = %q, want %q", got, want)
	}
}

// directModules returns the module paths a go.mod requires directly, in
// file order.
func directModules(gomod string) []string {
	var mods []string
	inBlock := false
	for _, line := range strings.Split(gomod, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if strings.Contains(line, "// indirect") {
			continue
		}
		if f := strings.Fields(line); len(f) >= 2 && !strings.HasPrefix(f[0], "//") {
			mods = append(mods, f[0])
		}
	}
	return mods
}

// unexplainedModules lists, sorted, the modules that no code span of page
// names, as the module's path or a package path below it.
func unexplainedModules(mods []string, page string) []string {
	var spans []string
	for _, s := range codeSpanRE.FindAllString(page, -1) {
		spans = append(spans, strings.Trim(s, "`"))
	}
	var missing []string
	for _, m := range mods {
		if !slices.ContainsFunc(spans, func(s string) bool { return s == m || strings.HasPrefix(s, m+"/") }) {
			missing = append(missing, m)
		}
	}
	slices.Sort(missing)
	return missing
}

// TestValidatePageNamesEveryCheck checks that docs/validate.md names, in
// a code span, every check the validation benchmarks record
// (Result.Semantic and Result.Timing in internal/harness), so that the
// page's table of gating checks and controls cannot silently miss one.
func TestValidatePageNamesEveryCheck(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "internal", "harness", "bench_*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, string(b))
	}
	page, err := os.ReadFile(filepath.Join(repoRoot, "docs", "validate.md"))
	if err != nil {
		t.Fatal(err)
	}
	checks := recordedChecks(sources)
	if len(checks) < 10 {
		t.Fatalf("found %d checks in %d benchmark files: is the pattern still the harness's?", len(checks), len(sources))
	}
	if missing := unnamedChecks(checks, string(page)); len(missing) > 0 {
		t.Errorf("docs/validate.md does not name these checks of internal/harness: %s", strings.Join(missing, ", "))
	}
}

// TestValidateCheckCatchesUnnamedCheck is the negative control of the
// test above: a check the page does not name in a code span is reported,
// one it names is not.
func TestValidateCheckCatchesUnnamedCheck(t *testing.T) {
	src := []string{"r.Semantic(\"named_one\", ok, 0, \"\", \"\")\nr.Timing(\"p99_ms\", ok, v, \"ms\", \"< 16\")\n",
		"r.Semantic(\"only_in_prose\", ok, 0, \"\", \"\")\n"}
	checks := recordedChecks(src)
	if want := []string{"named_one", "only_in_prose", "p99_ms"}; !slices.Equal(checks, want) {
		t.Fatalf("checks = %q, want %q", checks, want)
	}
	page := "| `named_one` ✗ | timing `p99_ms` | only_in_prose, without backquotes |"
	if got, want := unnamedChecks(checks, page), []string{"only_in_prose"}; !slices.Equal(got, want) {
		t.Errorf("unnamed checks = %q, want %q", got, want)
	}
}

// checkCallRE matches a benchmark recording a check: r.Semantic("name", or
// r.Timing("name".
var checkCallRE = regexp.MustCompile(`\.(?:Semantic|Timing)\("([a-z0-9_]+)"`)

// recordedChecks returns, sorted and without repeats, the names of the
// checks the sources record.
func recordedChecks(sources []string) []string {
	var names []string
	for _, s := range sources {
		for _, m := range checkCallRE.FindAllStringSubmatch(s, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// unnamedChecks lists the checks that no code span of page names.
func unnamedChecks(checks []string, page string) []string {
	spans := make(map[string]bool)
	for _, s := range codeSpanRE.FindAllString(page, -1) {
		spans[strings.Trim(s, "`")] = true
	}
	var missing []string
	for _, c := range checks {
		if !spans[c] {
			missing = append(missing, c)
		}
	}
	return missing
}
