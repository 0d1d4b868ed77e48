package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The header mmsb.h is written by hand; these tests keep it and the library
// in agreement: every prototype names a function the library defines (a Go
// //export function, or a C function of errmsg.c) with the same number of
// parameters, and every exported function is declared.

var (
	commentRE   = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	prototypeRE = regexp.MustCompile(`(?m)^[A-Za-z_][\w \t\*]*?\b(mmsb_\w+)\s*\(([^;{)]*)\)\s*;`)
	cDefRE      = regexp.MustCompile(`(?m)^[A-Za-z_][\w \t\*]*?\b(mmsb_\w+)\s*\(([^;{)]*)\)\s*\{`)
)

// cFunctions returns name -> parameter count of the functions declared
// (prototypes) or defined in C source src.
func cFunctions(src string, re *regexp.Regexp) map[string]int {
	src = commentRE.ReplaceAllString(src, "")
	out := map[string]int{}
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		params := strings.TrimSpace(m[2])
		n := 0
		if params != "" && params != "void" {
			n = strings.Count(params, ",") + 1
		}
		out[m[1]] = n
	}
	return out
}

// goExports returns name -> parameter count of the //export functions of
// the Go files in dir.
func goExports(dir string) (map[string]int, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Doc == nil {
				continue
			}
			for _, c := range fn.Doc.List {
				if exp, ok := strings.CutPrefix(c.Text, "//export "); ok {
					if exp != fn.Name.Name {
						return nil, fmt.Errorf("%s: //export %s on func %s", name, exp, fn.Name.Name)
					}
					out[exp] = fn.Type.Params.NumFields()
				}
			}
		}
	}
	return out, nil
}

// compareHeader lists every disagreement between the header's prototypes
// and the library's functions.
func compareHeader(header map[string]int, library map[string]int) []string {
	var problems []string
	for name, n := range header {
		got, ok := library[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is declared in mmsb.h but the library does not define it", name))
		case got != n:
			problems = append(problems, fmt.Sprintf("%s takes %d parameters in mmsb.h but %d in the library", name, n, got))
		}
	}
	for name := range library {
		if _, ok := header[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s is exported by the library but not declared in mmsb.h", name))
		}
	}
	slices.Sort(problems)
	return problems
}

func libraryFunctions(t *testing.T) map[string]int {
	t.Helper()
	lib, err := goExports(".")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("errmsg.c")
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range cFunctions(string(src), cDefRE) {
		if !strings.HasPrefix(name, "mmsb_internal_") {
			lib[name] = n
		}
	}
	return lib
}

func headerFunctions(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile("mmsb.h")
	if err != nil {
		t.Fatal(err)
	}
	return cFunctions(string(src), prototypeRE)
}

func TestHeaderMatchesExports(t *testing.T) {
	header, lib := headerFunctions(t), libraryFunctions(t)
	if len(header) < 20 {
		t.Fatalf("parsed only %d prototypes from mmsb.h: %v (the parser is broken)", len(header), header)
	}
	for _, p := range compareHeader(header, lib) {
		t.Error(p)
	}
}

// TestHeaderCheckNegativeControl: headers with a function missing, renamed
// or with a parameter dropped are caught.
func TestHeaderCheckNegativeControl(t *testing.T) {
	src, err := os.ReadFile("mmsb.h")
	if err != nil {
		t.Fatal(err)
	}
	lib := libraryFunctions(t)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"missing", "int mmsb_flush(mmsb_bus bus);", "", "mmsb_flush is exported by the library but not declared"},
		{"renamed", "int mmsb_flush(mmsb_bus bus);", "int mmsb_sync(mmsb_bus bus);", "mmsb_sync is declared in mmsb.h but the library does not define it"},
		{"arity", "int mmsb_wait_durable(mmsb_bus bus, uint64_t lsn);", "int mmsb_wait_durable(mmsb_bus bus);", "mmsb_wait_durable takes 1 parameters in mmsb.h but 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(src), tc.old, tc.new, 1)
			if bad == string(src) {
				t.Fatalf("mmsb.h has no %q to change", tc.old)
			}
			problems := compareHeader(cFunctions(bad, prototypeRE), lib)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q do not include %q", problems, tc.want)
			}
		})
	}
}

// TestCTestCallsEveryFunction: the C test program (compiled and run by
// TestCABI) calls every function of the header, so that each one is linked
// from C at least once.
func TestCTestCallsEveryFunction(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("test", "abi_test.c"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range headerFunctions(t) {
		if !strings.Contains(string(src), name+"(") {
			t.Errorf("test/abi_test.c never calls %s", name)
		}
	}
}
