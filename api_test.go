package mmsb_test

import (
	"flag"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateAPI = flag.Bool("update-api", false, "rewrite the checked-in API listings under api/")

// publicPackages are the packages whose exported API is tracked in api/.
var publicPackages = []string{
	"github.com/mmsb-go/mmsb",
	"github.com/mmsb-go/mmsb/client",
	"github.com/mmsb-go/mmsb/corruption",
	"github.com/mmsb-go/mmsb/delta",
	"github.com/mmsb-go/mmsb/tick",
	"github.com/mmsb-go/mmsb/vfs",
	"github.com/mmsb-go/mmsb/vfs/errorfs",
}

// TestAPI compares each public package's exported API with its listing in
// api/ (so that an API change is a visible diff in review; rewrite with
// go test -run TestAPI -update-api) and refuses exported declarations whose
// types name an internal package, which users could not spell.
func TestAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the public packages from source")
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "source", nil)
	for _, path := range publicPackages {
		pkg, err := imp.Import(path)
		if err != nil {
			t.Fatalf("type-check %s: %v", path, err)
		}
		lines, leaks := apiListing(pkg)
		for _, l := range leaks {
			t.Errorf("%s: exported API names an internal package: %s", path, l)
		}
		got := strings.Join(lines, "\n") + "\n"
		file := filepath.Join("api", strings.ReplaceAll(strings.TrimPrefix(path, "github.com/mmsb-go/"), "/", "_")+".txt")
		if *updateAPI {
			if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (create it with go test -run TestAPI -update-api)", err)
		}
		if got != string(want) {
			t.Errorf("exported API of %s differs from %s; review the change and rewrite with go test -run TestAPI -update-api\n%s",
				path, file, lineDiff(string(want), got))
		}
	}
}

// apiListing returns one sorted line per exported object (and exported
// method or field of an exported type), plus the lines that mention an
// internal package.
func apiListing(pkg *types.Package) (lines, leaks []string) {
	qual := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Path()
	}
	add := func(s string) {
		lines = append(lines, s)
		if strings.Contains(s, "/internal/") {
			leaks = append(leaks, s)
		}
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.TypeName:
			switch u := o.Type().Underlying().(type) {
			case *types.Struct:
				// Exported fields only: unexported ones are not API.
				if o.IsAlias() {
					add(fmt.Sprintf("type %s = %s", name, types.TypeString(types.Unalias(o.Type()), qual)))
				} else {
					add(fmt.Sprintf("type %s struct", name))
				}
				for i := 0; i < u.NumFields(); i++ {
					if f := u.Field(i); f.Exported() {
						add(fmt.Sprintf("field (%s) %s %s", name, f.Name(), types.TypeString(f.Type(), qual)))
					}
				}
			default:
				if o.IsAlias() {
					add(fmt.Sprintf("type %s = %s", name, types.TypeString(types.Unalias(o.Type()), qual)))
				} else {
					add(fmt.Sprintf("type %s %s", name, types.TypeString(u, qual)))
				}
			}
			if named, ok := types.Unalias(o.Type()).(*types.Named); ok && !o.IsAlias() {
				mset := types.NewMethodSet(types.NewPointer(named))
				for i := 0; i < mset.Len(); i++ {
					m := mset.At(i).Obj()
					if m.Exported() {
						add(fmt.Sprintf("method (%s) %s%s", name, m.Name(), strings.TrimPrefix(types.TypeString(m.Type(), qual), "func")))
					}
				}
			}
		default:
			add(types.ObjectString(obj, qual))
		}
	}
	sort.Strings(lines)
	return lines, leaks
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}

// TestAPIListingCatchesInternalTypes is the negative control of TestAPI: an
// exported declaration whose type lives in an internal package is reported,
// and a changed listing shows as a diff.
func TestAPIListingCatchesInternalTypes(t *testing.T) {
	internal := types.NewPackage("example.com/m/internal/secret", "secret")
	hidden := types.NewTypeName(token.NoPos, internal, "Thing", nil)
	types.NewNamed(hidden, types.Typ[types.Int], nil)
	pub := types.NewPackage("example.com/m", "m")
	pub.Scope().Insert(types.NewVar(token.NoPos, pub, "Leak", hidden.Type()))
	pub.Scope().Insert(types.NewVar(token.NoPos, pub, "Fine", types.Typ[types.Int]))
	lines, leaks := apiListing(pub)
	if len(leaks) != 1 || !strings.Contains(leaks[0], "Leak") {
		t.Fatalf("leaks = %q, want the one naming Leak (listing %q)", leaks, lines)
	}
	if d := lineDiff("var Fine int\n", strings.Join(lines, "\n")+"\n"); !strings.Contains(d, "+ var Leak") {
		t.Fatalf("diff %q does not show the added declaration", d)
	}
}
