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

// sharedDirProgram prints mmsb_reader_region_path of argv[1] under each
// later argument taken as the shared directory, one line each.
const sharedDirProgram = `#include <stdio.h>
#include HEADER
int main(int argc, char **argv) {
	char buf[4096];
	int i, rc;
	for (i = 2; i < argc; i++) {
		rc = mmsb_reader_region_path(argv[1], argv[i], buf, sizeof buf);
		if (rc != MMSB_READER_OK)
			printf("error %d\n", rc);
		else
			printf("%s\n", buf);
	}
	return 0;
}
`

// sharedDirScript prints the Python reader's region_path of sys.argv[2]
// under each later argument, one line each.
const sharedDirScript = `import sys
sys.path.insert(0, sys.argv[1])
import mmsb
for sd in sys.argv[3:]:
    print(mmsb.region_path(sys.argv[2], sd))
`

// TestReadersRegionPathUnderSharedDirMatchesGo: the C and Python readers
// name the region Go's mmsb.SharedRegionPath names for shared directories
// spelled with a trailing or repeated slash, "." and ".." elements, or
// relative. Before, both joined the shared directory as spelled: "/shm/"
// named "/shm//mmsb-…" (another string than the writer's SharedPath), and
// "/t/x/../shm" was resolved by the kernel through x, where Go drops
// "x/.." (another directory when x is a link, and none when x is missing).
func TestReadersRegionPathUnderSharedDirMatchesGo(t *testing.T) {
	cc := gcc(t)
	py := python(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "shared_dir.c")
	hdr := filepath.Join(repoRoot(t), "bindings", "c", "mmsb_reader.h")
	if err := os.WriteFile(src, []byte("#define HEADER \""+hdr+"\"\n"+sharedDirProgram), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildC(t, cc, src, dir)
	bus := filepath.Join(dir, "bus")
	shared := []string{
		"/shm", "/shm/", "//shm", "/shm//", "/shm/.", dir + "/x/../shm", dir + "/./shm/", dir + "/x/y/../../shm",
		"/", "/..", "rel/shm", "./shm/", "rel/../shm",
	}
	readers := map[string]*exec.Cmd{
		"C":      exec.Command(bin, append([]string{bus}, shared...)...),
		"Python": exec.Command(py, append([]string{"-c", sharedDirScript, filepath.Join(repoRoot(t), "python"), bus}, shared...)...),
	}
	want := make([]string, len(shared))
	t.Chdir(dir) // the relative ones are taken from here, as the readers' are
	for i, sd := range shared {
		p, err := mmsb.SharedRegionPath(bus, sd)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = p
	}
	for _, name := range []string{"C", "Python"} {
		cmd := readers[name]
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(got) != len(shared) {
			t.Fatalf("%s: %d lines for %d shared directories:\n%s", name, len(got), len(shared), out)
		}
		for i, sd := range shared {
			if got[i] != want[i] {
				t.Errorf("%s: region under %q: %s, Go %s", name, sd, got[i], want[i])
			}
		}
	}
}
