package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestDocumentedJSONMatchesOutput runs the commands whose --json output
// docs/cli.md spells out as `{name, list[{...}], object{...}}` and compares
// what they print with what the page says, both ways: a documented field
// that is not printed (renamed, dropped) and a printed field the page does
// not name both fail. Scripts read these objects, so they must not drift
// silently. The exit status that goes with each is checked too: check
// exits 1 exactly when it prints `"ok": false`.
func TestDocumentedJSONMatchesOutput(t *testing.T) {
	page := readCLIPage(t)
	tb := newTestBus(t)

	torn := newTestBus(t)
	segs, err := filepath.Glob(filepath.Join(torn.dir, "wal", "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no log segment in %s: %v", torn.dir, err)
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0x10, 0, 0, 0, 0x99, 0x99}); err != nil { // a torn frame header
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	runs := []struct {
		section string // the "## `mmsb ...`" heading the schema is under
		args    []string
		code    int
	}{
		{"mmsb check", []string{"check", "--json", tb.dir}, 0},
		{"mmsb check", []string{"check", "--json", torn.dir}, 1},
		{"mmsb inspect", []string{"inspect", "--json", tb.dir}, 0},
		{"mmsb inspect", []string{"inspect", "--json", "--pages", tb.dir}, 0},
		{"mmsb replay", []string{"replay", tb.dir, "--json", "--to-lsn", fmt.Sprint(tb.midLSN), "--out", filepath.Join(out, "lsn")}, 0},
		{"mmsb replay", []string{"replay", tb.dir, "--json", "--page", "1", "--epoch", "2", "--out", filepath.Join(out, "epoch")}, 0},
		{"mmsb replay", []string{"replay", tb.dir, "--json", "--to-time", "1", "--out", filepath.Join(out, "time")}, 0},
		{"mmsb checkpoint", []string{"checkpoint", "--json", tb.dir}, 0},
		{"mmsb graph", []string{"graph", "--json", tb.dir}, 0},
		{"mmsb version", []string{"version", "--json"}, 0},
	}
	for _, r := range runs {
		t.Run(r.section, func(t *testing.T) {
			doc, err := parseDocSchema(documentedObject(t, page, r.section))
			if err != nil {
				t.Fatalf("docs/cli.md, %s: %v", r.section, err)
			}
			res := runCLI(t, r.args...).mustCode(t, r.code)
			var got map[string]any
			if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, res.stdout)
			}
			if drift := schemaDrift(doc, got); len(drift) > 0 {
				t.Errorf("mmsb %s: docs/cli.md (%s) and the output differ:\n  %s\noutput:\n%s",
					strings.Join(r.args, " "), r.section, strings.Join(drift, "\n  "), res.stdout)
			}
			if ok, has := got["ok"]; has && ok != (r.code == 0) {
				t.Errorf(`"ok": %v with exit status %d`, ok, r.code)
			}
		})
	}
}

// TestDocumentedBenchJSONMatchesOutput does the same for the table of
// `mmsb bench --json` fields: every field it lists is printed by a tiny run
// (unless the field is one printed only when it applies, `omitempty`), and
// every field that run prints is in the table.
func TestDocumentedBenchJSONMatchesOutput(t *testing.T) {
	page := readCLIPage(t)
	documented := benchTableFields(t, page)
	optional := map[string]bool{}
	rt := reflect.TypeFor[benchResult]()
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if strings.Contains(opts, "omit") {
			optional[name] = true
		}
	}
	res := runCLI(t, "bench", "--no-progress", "--json", "--pages", "16", "--count", "64", "--batch", "8").mustCode(t, 0)
	var got map[string]any
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, res.stdout)
	}
	var drift []string
	for _, name := range documented {
		if _, ok := got[name]; !ok && !optional[name] {
			drift = append(drift, "documented, not printed: "+name)
		}
	}
	for name := range got {
		if !slices.Contains(documented, name) {
			drift = append(drift, "printed, not documented: "+name)
		}
	}
	sort.Strings(drift)
	if len(drift) > 0 {
		t.Errorf("docs/cli.md's table of bench JSON fields and the output differ:\n  %s", strings.Join(drift, "\n  "))
	}
}

// TestDocumentedJSONCheckCatchesDrift is the negative control of the two
// tests above: a field renamed on either side, one dropped, a nested field
// gone and a page without the notation are all reported, and optional
// fields, data-keyed objects and empty lists are not.
func TestDocumentedJSONCheckCatchesDrift(t *testing.T) {
	doc, err := parseDocSchema("{dir, ok, list[{file, offset}], obj{a, b}, opt?, keyed{*}, ids[]}")
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"dir": "d", "ok": true, "list": []any{map[string]any{"file": "f", "offset": 1.0}},
		"obj": map[string]any{"a": 1.0, "b": 2.0}, "keyed": map[string]any{"anything": 1.0}, "ids": []any{1.0}}
	if drift := schemaDrift(doc, good); len(drift) > 0 {
		t.Fatalf("matching output reported as drift: %q", drift)
	}
	empty := map[string]any{"dir": "d", "ok": true, "list": []any{}, "obj": map[string]any{"a": 1.0, "b": 2.0},
		"keyed": map[string]any{}, "ids": []any{}}
	if drift := schemaDrift(doc, empty); len(drift) > 0 {
		t.Fatalf("empty lists reported as drift: %q", drift)
	}
	bad := map[string]any{"directory": "d", "ok": true, "list": []any{map[string]any{"file": "f", "offset": 1.0, "extra": 1.0}},
		"obj": map[string]any{"a": 1.0}, "keyed": map[string]any{}, "ids": []any{}}
	want := []string{
		"documented, not printed: dir",
		"documented, not printed: obj.b",
		"printed, not documented: directory",
		"printed, not documented: list[].extra",
	}
	if got := schemaDrift(doc, bad); !slices.Equal(got, want) {
		t.Fatalf("drift = %q, want %q", got, want)
	}
	for _, broken := range []string{"{a, b", "{a[{b}}", "{a,, b}", "a, b"} {
		if _, err := parseDocSchema(broken); err == nil {
			t.Errorf("malformed notation %q accepted", broken)
		}
	}
	if got := benchTableFieldsOf("| JSON field | Meaning |\n|---|---|\n| `a`, `b_sec` | x |\n\nafter"); !slices.Equal(got, []string{"a", "b_sec"}) {
		t.Errorf("bench table fields = %q", got)
	}
}

// readCLIPage returns docs/cli.md.
func readCLIPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// documentedObject returns the first `{...}` in backquotes of the section
// of page whose heading starts with "## `<section>", lines joined.
func documentedObject(t *testing.T, page, section string) string {
	t.Helper()
	start := strings.Index(page, "\n## `"+section)
	if start < 0 {
		t.Fatalf("docs/cli.md has no section ## `%s", section)
	}
	text := page[start+1:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	text = strings.Join(strings.Fields(text), " ")
	m := regexp.MustCompile("`(\\{[^`]*\\})`").FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("docs/cli.md, ## `%s: no `{...}` JSON notation", section)
	}
	return m[1]
}

// docField is one field of the notation: its kind and whether it may be
// absent.
type docField struct {
	optional bool
	kind     byte // 0 scalar, '[' list, '{' object, '*' object keyed by data
}

// parseDocSchema turns `{a, b?, c[{d}], e{f}, g{*}, h[]}` into fields by
// path ("a", "c", "c[].d", "e.f", ...).
func parseDocSchema(s string) (map[string]docField, error) {
	p := &schemaParser{s: strings.ReplaceAll(s, " ", ""), out: map[string]docField{}}
	if err := p.object(""); err != nil {
		return nil, err
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("notation %q: text after the object at %d", s, p.i)
	}
	return p.out, nil
}

type schemaParser struct {
	s   string
	i   int
	out map[string]docField
}

func (p *schemaParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *schemaParser) object(prefix string) error {
	if !p.eat('{') {
		return fmt.Errorf("want { at %d of %q", p.i, p.s)
	}
	for {
		start := p.i
		for p.i < len(p.s) && (p.s[p.i] == '_' || p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= '0' && p.s[p.i] <= '9') {
			p.i++
		}
		if p.i == start {
			return fmt.Errorf("want a field name at %d of %q", p.i, p.s)
		}
		path := prefix + p.s[start:p.i]
		f := docField{optional: p.eat('?')}
		switch {
		case p.eat('['):
			f.kind = '['
			if p.i < len(p.s) && p.s[p.i] == '{' {
				if err := p.object(path + "[]."); err != nil {
					return err
				}
			}
			if !p.eat(']') {
				return fmt.Errorf("want ] at %d of %q", p.i, p.s)
			}
		case strings.HasPrefix(p.s[p.i:], "{*}"):
			f.kind = '*'
			p.i += 3
		case p.i < len(p.s) && p.s[p.i] == '{':
			f.kind = '{'
			if err := p.object(path + "."); err != nil {
				return err
			}
		}
		p.out[path] = f
		if p.eat('}') {
			return nil
		}
		if !p.eat(',') {
			return fmt.Errorf("want , or } at %d of %q", p.i, p.s)
		}
	}
}

// schemaDrift compares decoded JSON with the documented fields, sorted.
func schemaDrift(doc map[string]docField, got map[string]any) []string {
	printed := map[string]bool{}
	withElements := map[string]bool{} // lists with at least one object
	var walk func(prefix string, v map[string]any)
	walk = func(prefix string, v map[string]any) {
		for k, val := range v {
			path := prefix + k
			printed[path] = true
			if doc[path].kind == '*' {
				continue
			}
			switch x := val.(type) {
			case map[string]any:
				walk(path+".", x)
			case []any:
				for _, e := range x {
					if m, ok := e.(map[string]any); ok {
						withElements[path] = true
						walk(path+"[].", m)
					}
				}
			}
		}
	}
	walk("", got)
	var drift []string
	for path, f := range doc {
		if printed[path] || f.optional {
			continue
		}
		if parent, _, ok := cutLast(path); ok && (!printed[strings.TrimSuffix(parent, "[]")] ||
			strings.HasSuffix(parent, "[]") && !withElements[strings.TrimSuffix(parent, "[]")]) {
			continue // inside an absent object or an empty list
		}
		drift = append(drift, "documented, not printed: "+path)
	}
	for path := range printed {
		if _, ok := doc[path]; !ok {
			drift = append(drift, "printed, not documented: "+path)
		}
	}
	sort.Strings(drift)
	return drift
}

// cutLast splits "a[].b" into "a[]" and "b".
func cutLast(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path, false
	}
	return path[:i], path[i+1:], true
}

// benchTableFields returns the fields listed in the first column of the
// "| JSON field | Meaning |" table of the `mmsb bench` section.
func benchTableFields(t *testing.T, page string) []string {
	t.Helper()
	start := strings.Index(page, "\n## `mmsb bench`")
	if start < 0 {
		t.Fatal("docs/cli.md has no section ## `mmsb bench`")
	}
	fields := benchTableFieldsOf(page[start:])
	if len(fields) < 20 {
		t.Fatalf("docs/cli.md's bench JSON table lists only %d fields: %q", len(fields), fields)
	}
	return fields
}

func benchTableFieldsOf(text string) []string {
	start := strings.Index(text, "| JSON field |")
	if start < 0 {
		return nil
	}
	var fields []string
	name := regexp.MustCompile("`([a-z0-9_]+)`")
	for _, line := range strings.Split(text[start:], "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		first := strings.Split(line, "|")[1]
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			fields = append(fields, m[1])
		}
	}
	return fields
}
