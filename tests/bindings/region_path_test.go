package bindings

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// regionPathProgram prints mmsb_reader_region_path of each argument, one
// line each ("error CODE" when it fails).
const regionPathProgram = `#include <stdio.h>
#include HEADER
int main(int argc, char **argv) {
	char buf[4096];
	int i, rc;
	for (i = 1; i < argc; i++) {
		rc = mmsb_reader_region_path(argv[i], "/shm", buf, sizeof buf);
		if (rc != MMSB_READER_OK)
			printf("error %d\n", rc);
		else
			printf("%s\n", buf);
	}
	return 0;
}
`

// TestCReaderRegionPathMatchesGo: mmsb_reader_region_path names the
// region Go's mmsb.SharedRegionPath names, for bus directories that do
// not exist spelled with repeated slashes, "." and ".." elements and a
// trailing slash (Go cleans filepath.Abs's result), relative ones, and
// ones that exist (resolved). Before, a directory that did not exist was
// hashed as spelled: "/x/bus/" and "/x/./bus" named another region than
// Go's "/x/bus".
func TestCReaderRegionPathMatchesGo(t *testing.T) {
	cc := gcc(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "region_path.c")
	hdr := filepath.Join(repoRoot(t), "bindings", "c", "mmsb_reader.h")
	if err := os.WriteFile(src, []byte("#define HEADER \""+hdr+"\"\n"+regionPathProgram), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildC(t, cc, src, dir)
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "gone")
	paths := []string{
		gone, gone + "/", gone + "//", dir + "//gone", dir + "/./gone", dir + "/gone/.", dir + "/x/../gone",
		dir + "/x/y/../../gone/", "/../" + strings.TrimPrefix(gone, "/"), "//" + strings.TrimPrefix(gone, "/"),
		"/", "/..", "/.", "relative/../bus", "./bus/", "bus",
		real, real + "/", filepath.Join(dir, "link"), dir + "/link/", dir + "/x/../link", dir + "/link/../gone",
	}
	cmd := exec.Command(bin, paths...)
	cmd.Dir = dir // the relative ones are taken from here
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(paths) {
		t.Fatalf("%d lines for %d paths:\n%s", len(got), len(paths), out)
	}
	t.Chdir(dir)
	for i, p := range paths {
		want, err := mmsb.SharedRegionPath(p, "/shm")
		if err != nil {
			t.Fatal(err)
		}
		if got[i] != want {
			t.Errorf("region of %q: C %s, Go %s", p, got[i], want)
		}
	}
}
