package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCReaderConfigurationMistakes runs test/reader_config_test.c: a
// shared_dir that does not exist or is a file, a file as the bus
// directory and a bus directory given to mmsb_reader_open_region are
// MMSB_READER_ERR_INVALID naming the path (they were WRITER_GONE, retried
// for ever), an empty bus directory is named as such, and
// mmsb_reader_last_lsn is WRITER_GONE once a call found the writer gone
// (it answered OK).
func TestCReaderConfigurationMistakes(t *testing.T) {
	if _, err := os.Stat(mmsb.DefaultSharedDir); err != nil {
		testutil.Missing(t, "the reader needs a shared region in %s: %v", mmsb.DefaultSharedDir, err)
	}
	lookPath(t, "gcc")
	runBuilds(t, "gcc", filepath.Join("test", "reader_config_test.c"), buildLibrary(t), nil, nil)
}

// TestCReaderHeaderNamesFeatureMacros: mmsb_reader.h compiled as strict
// ISO C (-std=c99, no -D_DEFAULT_SOURCE) failed with errors about
// PATH_MAX, uid_t and sigjmp_buf; it says which macro to define first.
// With -D_DEFAULT_SOURCE, -D_GNU_SOURCE or -std=gnu99 it builds.
func TestCReaderHeaderNamesFeatureMacros(t *testing.T) {
	gcc := lookPath(t, "gcc")
	src := filepath.Join(t.TempDir(), "strict.c")
	if err := os.WriteFile(src, []byte("#include \"mmsb_reader.h\"\nint main(void) { return mmsb_reader_errmsg()[0]; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	compile := func(flags ...string) (string, error) {
		args := append(append([]string{"-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I."}, flags...), src)
		out, err := exec.Command(gcc, args...).CombinedOutput()
		return string(out), err
	}
	for _, std := range []string{"-std=c99", "-std=c11"} {
		out, err := compile(std)
		if err == nil {
			t.Fatalf("%s without -D_DEFAULT_SOURCE compiled", std)
		}
		first := ""
		for line := range strings.Lines(out) {
			if strings.Contains(line, "error") {
				first = line
				break
			}
		}
		if want := "compile with -D_DEFAULT_SOURCE"; !strings.Contains(first, want) {
			t.Errorf("%s: the first error is %q; want it to say %q", std, first, want)
		}
	}
	for _, flags := range [][]string{{"-std=c99", "-D_DEFAULT_SOURCE"}, {"-std=c11", "-D_GNU_SOURCE"}, {"-std=gnu99"}} {
		if out, err := compile(flags...); err != nil {
			t.Errorf("%v: %v\n%s", flags, err, out)
		}
	}
}
