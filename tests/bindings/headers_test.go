package bindings

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// The writer's C ABI (bindings/c/mmsb.h) and the Go-free reader
// (bindings/c/mmsb_reader.h) must work in one translation unit, in either
// order, as C and as C++: a program may write through libmmsb.so and read
// through shared memory. The reader keeps every name it defines under
// mmsb_reader_ / MMSB_READER_ so that the versioned writer ABI never has
// to change for it.

// bothHeadersBody uses names of both headers, including the pairs that
// once clashed (status enum, OK code, page info).
const bothHeadersBody = `
int main(void) {
	mmsb_page_info w;
	mmsb_reader_page_info r;
	mmsb_status ws = MMSB_OK;
	mmsb_reader_status rs = MMSB_READER_OK;
	w.epoch = 1;
	r.epoch = 2;
	return (int)ws + (int)rs + (int)(w.epoch + r.epoch) + MMSB_ERR_WRITER_GONE + MMSB_READER_ERR_WRITER_GONE +
	       MMSB_ERR_SNAPSHOT_BUSY + MMSB_READER_ERR_SNAPSHOT_BUSY + (mmsb_reader_errmsg()[0] != 0);
}
`

// headerCompilers are the compilers and flags the pair must build with.
var headerCompilers = []struct {
	name, program, ext string
	flags              []string
}{
	{"c", "gcc", ".c", []string{"-std=c99", "-D_DEFAULT_SOURCE", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"}},
	{"c++", "g++", ".cpp", []string{"-std=c++17", "-Wall", "-Wextra", "-Werror", "-fsyntax-only"}},
}

// headerOrders are the include orders tried.
var headerOrders = map[string][]string{
	"writer_first": {"mmsb.h", "mmsb_reader.h"},
	"reader_first": {"mmsb_reader.h", "mmsb.h"},
}

// compileBoth compiles prelude, then both headers in the given order, then
// body, and returns the compiler's output and error.
func compileBoth(t *testing.T, program, ext string, flags []string, prelude string, order []string, body string) (string, error) {
	t.Helper()
	var src strings.Builder
	src.WriteString(prelude)
	for _, h := range order {
		fmt.Fprintf(&src, "#include %q\n", h)
	}
	src.WriteString(body)
	file := filepath.Join(t.TempDir(), "both"+ext)
	if err := os.WriteFile(file, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, flags...), "-I", filepath.Join(repoRoot(t), "bindings", "c"), file)
	out, err := exec.Command(program, args...).CombinedOutput()
	return string(out), err
}

// TestCHeadersCompileTogether: mmsb.h and mmsb_reader.h in one C and one
// C++ translation unit, in both orders, with -Wall -Wextra -Werror.
func TestCHeadersCompileTogether(t *testing.T) {
	for _, c := range headerCompilers {
		program := testutil.LookPath(t, c.program) // compiles mmsb.h with mmsb_reader.h
		for name, order := range headerOrders {
			t.Run(c.name+"/"+name, func(t *testing.T) {
				if out, err := compileBoth(t, program, c.ext, c.flags, "", order, bothHeadersBody); err != nil {
					t.Fatalf("%s %v: %v\n%s", c.program, order, err, out)
				}
			})
		}
	}
}

// TestCHeadersClashCheckCatchesClash is the negative control of
// TestCHeadersCompileTogether: a definition that clashes with either
// header's names (the old reader's MMSB_OK and mmsb_status; a second
// mmsb_reader_page_info) makes the same compilation fail.
func TestCHeadersClashCheckCatchesClash(t *testing.T) {
	clashes := map[string]string{
		"writer_status":    "typedef enum mmsb_status { MMSB_OK = 0 } mmsb_status;\n",
		"writer_ok_macro":  "#define MMSB_OK 0\n",
		"reader_page_info": "typedef struct mmsb_reader_page_info { int epoch; } mmsb_reader_page_info;\n",
	}
	for _, c := range headerCompilers {
		program := testutil.LookPath(t, c.program) // compiles mmsb.h with mmsb_reader.h
		for clash, prelude := range clashes {
			for name, order := range headerOrders {
				t.Run(c.name+"/"+clash+"/"+name, func(t *testing.T) {
					if out, err := compileBoth(t, program, c.ext, c.flags, prelude, order, bothHeadersBody); err == nil {
						t.Fatalf("%s accepted a clashing definition before %v:\n%s%s", c.program, order, prelude, out)
					}
				})
			}
		}
	}
}

// readerName matches the identifiers of MMSB's namespaces; cComment a C
// comment (which may name mmsb.h's identifiers).
var (
	readerName = regexp.MustCompile(`\b(?:mmsb|MMSB)_[A-Za-z0-9_]*`)
	cComment   = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
)

// foreignNames lists the mmsb_/MMSB_ identifiers of the C source src,
// outside comments, that are outside the reader's namespace
// (mmsb_reader..., MMSB_READER...), sorted.
func foreignNames(src string) []string {
	seen := map[string]bool{}
	for _, n := range readerName.FindAllString(cComment.ReplaceAllString(src, " "), -1) {
		if !strings.HasPrefix(n, "mmsb_reader") && !strings.HasPrefix(n, "MMSB_READER") {
			seen[n] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestCReaderHeaderNamespace: every mmsb_/MMSB_ name in mmsb_reader.h's
// code (comments aside) is in its own namespace, so that a name added to
// both headers later cannot clash even before anyone compiles the pair.
func TestCReaderHeaderNamespace(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "bindings", "c", "mmsb_reader.h"))
	if err != nil {
		t.Fatal(err)
	}
	if names := foreignNames(string(src)); len(names) > 0 {
		t.Errorf("bindings/c/mmsb_reader.h uses names outside mmsb_reader_/MMSB_READER_: %v", names)
	}
}

// TestCReaderHeaderNamespaceCheckCatchesForeignName is the negative
// control of TestCReaderHeaderNamespace.
func TestCReaderHeaderNamespaceCheckCatchesForeignName(t *testing.T) {
	src := "/* unlike mmsb.h's MMSB_OK */\n#define MMSB_READER_OK 0 // not MMSB_ERR_BUSY\n" +
		"typedef struct mmsb_page_info mmsb_page_info;\n#define MMSB_OK 0\n"
	got := foreignNames(src)
	if want := []string{"MMSB_OK", "mmsb_page_info"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("foreignNames = %v, want %v", got, want)
	}
}

// errmsgFiles are two source files of one program: a.* opens a region
// that does not exist, b.* prints what mmsb_reader_errmsg() says there.
var errmsgFiles = [2]string{
	`#include "mmsb_reader.h"
int mmsb_test_open_missing(const char *region) {
	mmsb_reader *r = 0;
	return mmsb_reader_open_region(region, 0, &r);
}
`,
	`#include <stdio.h>
#include "mmsb_reader.h"
int mmsb_test_open_missing(const char *region);
int main(int argc, char **argv) {
	int rc = mmsb_test_open_missing(argc > 1 ? argv[1] : "/nonexistent");
	printf("rc %d msg [%s]\n", rc, mmsb_reader_errmsg());
	return 0;
}
`,
}

// TestCReaderErrmsgAcrossFiles: the message of a call made in one source
// file is what mmsb_reader_errmsg() returns in another, as C and as C++,
// plain and sanitized. Before, the message buffer was a static of each
// file: the other file read "" ("rc -2 msg []").
func TestCReaderErrmsgAcrossFiles(t *testing.T) {
	for _, c := range []struct {
		name, program, ext string
		flags              []string
	}{
		{"c", "gcc", ".c", []string{"-std=c99", "-D_DEFAULT_SOURCE"}},
		{"c++", "g++", ".cpp", []string{"-std=c++17"}},
	} {
		program := testutil.LookPath(t, c.program) // builds a two-file program with mmsb_reader.h
		for _, build := range []struct {
			name  string
			flags []string
		}{
			{"plain", []string{"-O2"}},
			{"sanitized", []string{"-fsanitize=address,undefined", "-fno-sanitize-recover=all"}},
		} {
			t.Run(c.name+"/"+build.name, func(t *testing.T) {
				dir := t.TempDir()
				args := append(append([]string{"-Wall", "-Wextra", "-Werror"}, c.flags...), build.flags...)
				args = append(args, "-I", filepath.Join(repoRoot(t), "bindings", "c"), "-o", filepath.Join(dir, "errmsg"))
				for i, src := range errmsgFiles {
					f := filepath.Join(dir, fmt.Sprintf("%c%s", 'a'+i, c.ext))
					if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
						t.Fatal(err)
					}
					args = append(args, f)
				}
				if out, err := exec.Command(program, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %v: %v\n%s", c.program, args, err, out)
				}
				missing := filepath.Join(dir, "no-such-region")
				out, err := exec.Command(filepath.Join(dir, "errmsg"), missing).CombinedOutput()
				if err != nil {
					t.Fatalf("errmsg: %v\n%s", err, out)
				}
				if want := "rc -2 msg [mmsb: shared-memory writer gone: no shared region " + missing; !strings.HasPrefix(string(out), want) {
					t.Fatalf("the other file's mmsb_reader_errmsg():\n%s\nwant it to start with %q", out, want)
				}
			})
		}
	}
}
