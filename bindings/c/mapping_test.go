//go:build cgo

package main

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// sentinels names every sentinel error of package mmsb; TestSentinelsCovered
// checks that none is missing from it.
var sentinels = map[string]error{
	"ErrPageNotFound": mmsb.ErrPageNotFound, "ErrPageExists": mmsb.ErrPageExists,
	"ErrInvalidPage": mmsb.ErrInvalidPage, "ErrInvalidDelta": mmsb.ErrInvalidDelta,
	"ErrOutOfRange": mmsb.ErrOutOfRange, "ErrConflict": mmsb.ErrConflict,
	"ErrCorruption": mmsb.ErrCorruption, "ErrCycle": mmsb.ErrCycle, "ErrClosed": mmsb.ErrClosed,
	"ErrFailed": mmsb.ErrFailed, "ErrLocked": mmsb.ErrLocked, "ErrUnknownFunc": mmsb.ErrUnknownFunc,
	"ErrPageInUse": mmsb.ErrPageInUse, "ErrNotDerived": mmsb.ErrNotDerived,
	"ErrRecompute": mmsb.ErrRecompute, "ErrLogTruncated": mmsb.ErrLogTruncated, "ErrBusy": mmsb.ErrBusy,
	"ErrNoCheckpoint": mmsb.ErrNoCheckpoint, "ErrInvalidOption": mmsb.ErrInvalidOption,
	"ErrCheckpointFailing": mmsb.ErrCheckpointFailing, "ErrWriterGone": mmsb.ErrWriterGone,
	"ErrStale": mmsb.ErrStale, "ErrSharedCorrupt": mmsb.ErrSharedCorrupt,
	"ErrSnapshotBusy": mmsb.ErrSnapshotBusy, "ErrNoSpace": mmsb.ErrNoSpace,
	// replication.go
	"ErrReplication": mmsb.ErrReplication, "ErrFollower": mmsb.ErrFollower,
	"ErrReplicaOrder": mmsb.ErrReplicaOrder, "ErrReplicaDiverged": mmsb.ErrReplicaDiverged,
	"ErrRecordTooLarge": mmsb.ErrRecordTooLarge,
}

var headerCodeRE = regexp.MustCompile(`MMSB_ERR_\w+ = (\d+),?\s*/\* (Err\w+)`)

// headerCodes returns sentinel name -> status code from mmsb.h's enum
// comments.
func headerCodes(t *testing.T) map[string]int {
	t.Helper()
	src, err := os.ReadFile("mmsb.h")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range headerCodeRE.FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[1])
		out[m[2]] = n
	}
	return out
}

// rootSentinels returns the names of the exported Err variables of the
// root package's non-test files (errors.go, and replication.go's: a commit
// from C too large for one log record was MMSB_ERR_IO, wrapping no sentinel
// with a code).
func rootSentinels(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, s := range g.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					if strings.HasPrefix(n.Name, "Err") && ast.IsExported(n.Name) {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names
}

func TestSentinelsCovered(t *testing.T) {
	names := rootSentinels(t)
	if len(names) < 20 {
		t.Fatalf("found only %d sentinels in errors.go", len(names))
	}
	codes := headerCodes(t)
	for _, n := range names {
		if _, ok := sentinels[n]; !ok {
			t.Errorf("%s (root package) is missing from this test's table", n)
		}
		if _, ok := codes[n]; !ok {
			t.Errorf("%s (root package) has no status code in mmsb.h", n)
		}
	}
}

// TestStatusOfEverySentinel: each sentinel, wrapped the way the bus wraps
// it, maps to the code mmsb.h gives it, and codes are distinct.
func TestStatusOfEverySentinel(t *testing.T) {
	codes := headerCodes(t)
	seen := map[int]string{}
	for name, err := range sentinels {
		want, ok := codes[name]
		if !ok {
			t.Errorf("%s has no code in mmsb.h", name)
			continue
		}
		if other, dup := seen[want]; dup {
			t.Errorf("%s and %s share code %d", name, other, want)
		}
		seen[want] = name
		if got := int(statusOf(fmt.Errorf("page 7: %w", err))); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", name, got, want)
		}
	}
	// The bus wraps sentinels in others: the specific one wins.
	nested := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("batch delta 3: %w: %w", mmsb.ErrInvalidDelta, mmsb.ErrOutOfRange), "ErrOutOfRange"},
		{fmt.Errorf("%w: %w", mmsb.ErrNoCheckpoint, mmsb.ErrCorruption), "ErrNoCheckpoint"},
		{fmt.Errorf("batch delta 0: %w: %w", mmsb.ErrInvalidDelta, mmsb.ErrPageNotFound), "ErrPageNotFound"},
		// A bus failed by replication stays MMSB_ERR_FAILED (the sticky state a caller acts on).
		{fmt.Errorf("%w: %w", mmsb.ErrFailed, fmt.Errorf("%w: LSN 9 not stored", mmsb.ErrReplication)), "ErrFailed"},
		{fmt.Errorf("%w: %w", mmsb.ErrFailed, mmsb.ErrReplicaDiverged), "ErrFailed"},
	}
	for _, tc := range nested {
		if got := int(statusOf(tc.err)); got != codes[tc.want] {
			t.Errorf("statusOf(%v) = %d, want %d (%s)", tc.err, got, codes[tc.want], tc.want)
		}
	}
	if got := int(statusOf(errors.New("disk on fire"))); got != 103 {
		t.Errorf("an error wrapping no sentinel maps to %d, want MMSB_ERR_IO (103)", got)
	}
}

var (
	pyClassRE = regexp.MustCompile(`^class (\w+)\(`)
	pyCodeRE  = regexp.MustCompile(`(?m)^    code = (\d+)$`)
)

// pyClassNames are the Python classes whose name is not the sentinel's
// without "Err" (the reader named it first).
var pyClassNames = map[string]string{"ErrSharedCorrupt": "FormatError"}

// pythonCodes returns class name -> code of the classes of errors.py that
// set a code of their own.
func pythonCodes(src string) map[string]int {
	out := map[string]int{}
	for _, block := range strings.Split(src, "\nclass ")[1:] {
		name := pyClassRE.FindStringSubmatch("class " + block)
		code := pyCodeRE.FindStringSubmatch(block)
		if name != nil && code != nil {
			n, _ := strconv.Atoi(code[1])
			out[name[1]] = n
		}
	}
	return out
}

// TestPythonErrorsMatchHeader: python/mmsb/errors.py has one class per
// sentinel, named after it without "Err", with the same code.
func TestPythonErrorsMatchHeader(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "python", "mmsb", "errors.py"))
	if err != nil {
		t.Fatal(err)
	}
	py := pythonCodes(string(src))
	for name, code := range headerCodes(t) {
		cls, ok := pyClassNames[name]
		if !ok {
			cls = strings.TrimPrefix(name, "Err")
		}
		if got, ok := py[cls]; !ok {
			t.Errorf("errors.py has no class %s (with a code) for %s", cls, name)
		} else if got != code {
			t.Errorf("errors.py: %s.code = %d, mmsb.h says %d", cls, got, code)
		}
	}
}

// TestWrapperBoundsMatchLibrary: the C++ and Python wrappers refuse a page
// count above the library's maxCreatePages before allocating a vector of
// that many sizes; their copies of the bound must equal it, on 64 and on
// 32 bits (2^24 and 2^20: min(2^24, (the largest int >> 11) + 1)).
func TestWrapperBoundsMatchLibrary(t *testing.T) {
	wide, narrow := min(1<<24, uint64(math.MaxInt64)>>11+1), min(1<<24, uint64(math.MaxInt32)>>11+1)
	if here := map[int]uint64{64: wide, 32: narrow}[strconv.IntSize]; here != maxCreatePages {
		t.Fatalf("maxCreatePages is %d, want %d on %d bits", maxCreatePages, here, strconv.IntSize)
	}
	for _, c := range []struct{ file, pattern string }{
		{filepath.Join("..", "cpp", "mmsb.hpp"), `max_create_pages =\s*sizeof\(std::size_t\) >= 8 \? std::size_t\(1\) << (\d+) : std::size_t\(1\) << (\d+);`},
		{filepath.Join("..", "..", "python", "mmsb", "writer.py"), `_MAX_CREATE_PAGES = 1 << (\d+) if sys.maxsize > 1 << 32 else 1 << (\d+)`},
	} {
		src, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(c.pattern).FindSubmatch(src)
		if m == nil {
			t.Errorf("%s: no %q", c.file, c.pattern)
			continue
		}
		w, _ := strconv.Atoi(string(m[1]))
		n, _ := strconv.Atoi(string(m[2]))
		if 1<<w != wide || 1<<n != narrow {
			t.Errorf("%s: bounds 1<<%d (64 bits) and 1<<%d (32 bits), the library's are %d and %d", c.file, w, n, wide, narrow)
		}
	}
}

var headerEnumRE = regexp.MustCompile(`(?m)^\s*(MMSB_ERR_\w+) = \d+`)

// TestEveryCodeNamedAndThrown: every status code of mmsb.h has a name in
// mmsb_status_name (errmsg.c) and its own exception class in mmsb.hpp,
// which throw_status throws; a code added to the header without them was
// "MMSB_ERR_UNKNOWN" in C and a bare mmsb::error in C++.
func TestEveryCodeNamedAndThrown(t *testing.T) {
	hdr, err := os.ReadFile("mmsb.h")
	if err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadFile("errmsg.c")
	if err != nil {
		t.Fatal(err)
	}
	hpp, err := os.ReadFile(filepath.Join("..", "cpp", "mmsb.hpp"))
	if err != nil {
		t.Fatal(err)
	}
	codes := headerEnumRE.FindAllStringSubmatch(string(hdr), -1)
	if len(codes) < 30 {
		t.Fatalf("found only %d MMSB_ERR_ codes in mmsb.h", len(codes))
	}
	for _, m := range codes {
		code := m[1]
		if !strings.Contains(string(names), fmt.Sprintf("case %s: return %q;", code, code)) {
			t.Errorf("errmsg.c: mmsb_status_name does not name %s", code)
		}
		class := regexp.MustCompile(`MMSB_HPP_ERROR\((\w+), ` + code + `\)`).FindStringSubmatch(string(hpp))
		if class == nil {
			t.Errorf("mmsb.hpp: no exception class for %s", code)
			continue
		}
		if !strings.Contains(string(hpp), fmt.Sprintf("case %s: throw %s(msg);", code, class[1])) {
			t.Errorf("mmsb.hpp: throw_status does not throw %s for %s", class[1], code)
		}
	}
}
