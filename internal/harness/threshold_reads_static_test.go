package harness

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestThresholdReadsDeclared checks every threshold read in the
// benchmarks' source, whichever mode reaches it, against what its
// benchmark declares. Env.Threshold finds an undeclared read only when
// the read runs: a misspelt name read only under --quick, or only in a
// full run (which CI never runs), passed every test and then failed the
// run that reached it, or read NaN where nothing checked. Here the reads
// are found in the source without running anything: each call of
// Threshold or Int on an *Env, each call of a Limits function's size
// argument, and each name atMost is given, in a bench_*.go file, must
// name a string literal its file's benchmark declares (Sizes,
// OptionalSizes, Gates, or their quick_ variants); a name that is not a
// literal, or an Env or size function used otherwise, fails too (the
// check could not see what it reads). Every declared gate and size must
// be read somewhere in its file (one never read gates nothing).
func TestThresholdReadsDeclared(t *testing.T) {
	p := parseHarness(t)
	files := slices.Sorted(maps.Keys(p.files))
	byKey := map[string]Benchmark{}
	for _, b := range All() {
		byKey[b.Key] = b
	}
	checked := map[string]bool{}
	// The file defining Env and atMost reads thresholds by the names it
	// is given: the machinery, not a benchmark.
	machinery := p.fset.Position(p.pkg.Scope().Lookup("Env").Pos()).Filename
	for _, f := range files {
		if f == machinery {
			continue
		}
		key, reads, bad := thresholdReads(t, p, f)
		for _, msg := range bad {
			t.Error(msg)
		}
		if key == "" {
			if len(reads) > 0 {
				t.Errorf("%s reads thresholds (%v) but registers no benchmark: its reads cannot be checked", f, reads)
			}
			continue
		}
		b, ok := byKey[key]
		if !ok {
			t.Errorf("%s registers %q, which All does not hold", f, key)
			continue
		}
		checked[key] = true
		read := map[string]bool{}
		for _, r := range reads {
			read[r.name] = true
			if !b.reads(r.name) {
				t.Errorf("%s: benchmark %s reads threshold %q, which it does not declare in Sizes, OptionalSizes or Gates (it reads %s)",
					r.pos, key, r.name, strings.Join(b.thresholdNames(), ", "))
			}
		}
		var declared []string
		for _, s := range append(slices.Clone(b.Sizes), b.OptionalSizes...) {
			declared = append(declared, s.Name)
		}
		declared = append(declared, b.Gates...)
		for _, n := range declared {
			if !read[n] {
				t.Errorf("%s: benchmark %s declares %q but never reads it", f, key, n)
			}
		}
	}
	for _, b := range All() {
		if !b.injected && !checked[b.Key] {
			t.Errorf("benchmark %s: no bench_*.go file registers it, so its reads were not checked", b.Key)
		}
	}
	if len(checked) < 10 {
		t.Fatalf("only %d benchmarks checked: %v", len(checked), checked)
	}
}

// thresholdRead is one threshold name read in the source, and where.
type thresholdRead struct {
	name string
	pos  token.Position
}

func (r thresholdRead) String() string { return r.name }

// emptyImporter gives every import as an empty package: the check needs
// the types of this package's own identifiers only (an *Env, a size
// function, atMost), and the errors of what other packages define are
// ignored.
type emptyImporter struct{}

func (emptyImporter) Import(path string) (*types.Package, error) {
	p := types.NewPackage(path, filepath.Base(path))
	p.MarkComplete()
	return p, nil
}

// parsedPackage is this package's non-test source, parsed and typed.
type parsedPackage struct {
	fset  *token.FileSet
	files map[string]*ast.File // by file name
	info  *types.Info
	pkg   *types.Package
}

// parseHarness parses and type-checks the package's non-test files.
func parseHarness(t *testing.T) *parsedPackage {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	p := &parsedPackage{fset: token.NewFileSet(), files: map[string]*ast.File{},
		info: &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(p.fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.files[n] = f
		files = append(files, f)
	}
	conf := types.Config{Importer: emptyImporter{}, Error: func(error) {}}
	p.pkg, _ = conf.Check("github.com/mmsb-go/mmsb/internal/harness", p.fset, files, p.info)
	if p.pkg.Scope().Lookup("Env") == nil || p.pkg.Scope().Lookup("atMost") == nil {
		t.Fatal("the package's Env or atMost not found: the check is out of date")
	}
	return p
}

// thresholdReads returns the key of the benchmark the file registers,
// the threshold names it reads, and what it could not check.
func thresholdReads(t *testing.T, p *parsedPackage, name string) (key string, reads []thresholdRead, bad []string) {
	t.Helper()
	file := p.files[name]
	envType := types.NewPointer(p.pkg.Scope().Lookup("Env").Type())
	atMost := p.pkg.Scope().Lookup("atMost")
	isEnvMethod := func(sel *ast.SelectorExpr) bool {
		s, ok := p.info.Selections[sel]
		return ok && (sel.Sel.Name == "Threshold" || sel.Sel.Name == "Int") &&
			(types.Identical(s.Recv(), envType) || types.Identical(s.Recv(), envType.Elem()))
	}
	isSize := func(e ast.Expr) bool {
		id, ok := e.(*ast.Ident)
		if !ok {
			return false
		}
		v, ok := p.info.Uses[id].(*types.Var)
		if !ok {
			return false
		}
		sig, ok := v.Type().(*types.Signature)
		return ok && sig.Params().Len() == 1 && sig.Results().Len() == 1 &&
			types.Identical(sig.Params().At(0).Type(), types.Typ[types.String]) &&
			types.Identical(sig.Results().At(0).Type(), types.Typ[types.Float64])
	}
	// The names of a loop over a list of literals ("for _, n := range
	// []string{"pages", "large_pages"}") are each read.
	ranged := map[types.Object][]ast.Expr{}
	ast.Inspect(file, func(n ast.Node) bool {
		if rs, ok := n.(*ast.RangeStmt); ok {
			id, ok1 := rs.Value.(*ast.Ident)
			cl, ok2 := rs.X.(*ast.CompositeLit)
			if ok1 && ok2 && p.info.Defs[id] != nil {
				ranged[p.info.Defs[id]] = cl.Elts
			}
		}
		return true
	})
	var literal func(e ast.Expr, what string)
	literal = func(e ast.Expr, what string) {
		if id, ok := e.(*ast.Ident); ok && ranged[p.info.Uses[id]] != nil {
			for _, el := range ranged[p.info.Uses[id]] {
				literal(el, what)
			}
			return
		}
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			bad = append(bad, fmt.Sprintf("%s: %s reads a threshold named by an expression, not a string literal: the check cannot see it", p.fset.Position(e.Pos()), what))
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		reads = append(reads, thresholdRead{s, p.fset.Position(e.Pos())})
	}
	// understood: the expressions read in a way the check follows; any
	// other use of Env.Threshold, Env.Int or a size function escapes it.
	understood := map[ast.Expr]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			if isEnvMethod(fn) && len(call.Args) == 1 {
				understood[fn] = true
				literal(call.Args[0], "Env."+fn.Sel.Name)
			}
		case *ast.Ident:
			switch {
			case isSize(fn) && len(call.Args) == 1:
				understood[fn] = true
				literal(call.Args[0], fn.Name)
			case p.info.Uses[fn] == atMost && len(call.Args) >= 3 && isSize(call.Args[0]):
				understood[call.Args[0]] = true
				for _, a := range call.Args[3:] {
					literal(a, "atMost")
				}
			case fn.Name == "register" && len(call.Args) == 1:
				if cl, ok := call.Args[0].(*ast.CompositeLit); ok {
					for _, el := range cl.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Key" {
								if lit, ok := kv.Value.(*ast.BasicLit); ok {
									key, _ = strconv.Unquote(lit.Value)
								}
							}
						}
					}
				}
			}
		}
		return true
	})
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if isEnvMethod(n) && !understood[n] {
				bad = append(bad, fmt.Sprintf("%s: Env.%s used other than called with one name: the check cannot see what it reads", p.fset.Position(n.Pos()), n.Sel.Name))
			}
		case *ast.Ident:
			if isSize(n) && !understood[n] {
				bad = append(bad, fmt.Sprintf("%s: size function %s used other than called with one name or given to atMost: the check cannot see what it reads", p.fset.Position(n.Pos()), n.Name))
			}
		}
		return true
	})
	sort.Strings(bad)
	return key, reads, bad
}
