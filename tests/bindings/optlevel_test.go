package bindings

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
)

// readerEveryCall calls every function of mmsb_reader.h, so that each is
// compiled (they are static inline: an uncalled one is never built) and
// mmsb_reader_open inlines mmsb_reader_region_path with its PATH_MAX
// buffer, where gcc's -Wformat-truncation looked.
const readerEveryCall = `#include "mmsb_reader.h"

int main(int argc, char **argv) {
	mmsb_reader *r = NULL;
	mmsb_reader_options o = {0, 0, 0, 0};
	unsigned char buf[64], sum[32];
	char path[PATH_MAX];
	uint64_t ids[4] = {1, 2, 3, 4}, lsn = 0, gen = 0, tries = 0;
	void *bufs[1] = {buf};
	size_t caps[1] = {sizeof buf}, sizes[1], n = 0;
	int64_t pid = 0;
	mmsb_reader_page_info info;
	int rc = 0;
	(void)argc;
	rc |= mmsb_reader_region_path(argv[0], NULL, path, sizeof path);
	rc |= mmsb_reader_open(argv[0], argv[1], &o, &r);
	rc |= mmsb_reader_open_region(path, NULL, &r);
	rc |= mmsb_reader_decode_header(buf, sizeof buf);
	rc |= mmsb_reader_read(r, 1, buf, sizeof buf, &n, &info);
	rc |= mmsb_reader_last_lsn(r, &lsn);
	rc |= mmsb_reader_wait(r, lsn, 1000, &lsn);
	rc |= mmsb_reader_pages(r, ids, 4, &n);
	rc |= mmsb_reader_snapshot(r, ids, 1, bufs, caps, sizes, &info, &lsn);
	rc |= mmsb_reader_info(r, &gen, &pid, &tries);
	mmsb_reader_sha256(path, n, sum);
	mmsb_reader_close(&r);
	return rc + (mmsb_reader_errmsg()[0] != 0) + (mmsb_reader_strerror(rc)[0] != 0) + sum[0];
}
`

// readerEveryCallCPP uses mmsb::reader of mmsb.hpp (the writer's classes
// come with it; compiled only, nothing linked).
const readerEveryCallCPP = `#include "mmsb.hpp"

int main(int argc, char **argv) {
	if (argc < 2) return 0;
	mmsb::reader rd(argv[1], argc > 2 ? argv[2] : "");
	auto other = mmsb::reader::open_region(argv[1]);
	std::uint64_t ids[1] = {1}, at = 0;
	std::uint8_t buf[8];
	auto snap = rd.snapshot(ids, &at);
	auto page = rd.read(1);
	return int(rd.read_into(1, buf) + rd.pages().size() + rd.wait(rd.last_lsn(), std::chrono::milliseconds(1)) +
	           rd.info().generation + snap.size() + page.data.size() + other.is_open());
}
`

// TestCReaderHeaderBuildsAtEveryLevel compiles a C program calling every
// function of mmsb_reader.h, and a C++ one using mmsb::reader, with -Wall
// -Wextra -Werror at optimization levels the other tests do not build at
// (they use -O0 and -O2). gcc 12 at -O1 and -Os warned that the region
// path "may be truncated" (-Wformat-truncation, after inlining
// mmsb_reader_region_path into mmsb_reader_open), so every program
// including the header failed to build there under -Werror (control:
// "mmsb_reader.h:434:31: error: '/mmsb-' directive output may be
// truncated writing 6 bytes into a region of size between 1 and 4096").
func TestCReaderHeaderBuildsAtEveryLevel(t *testing.T) {
	cc := gcc(t)
	cxx := testutil.LookPath(t, "g++") // builds mmsb.hpp's reader
	dir := t.TempDir()
	inc := []string{"-I", filepath.Join(repoRoot(t), "bindings", "c"), "-I", filepath.Join(repoRoot(t), "bindings", "cpp")}
	for _, c := range []struct {
		lang, compiler, file, src string
		flags, levels             []string
	}{
		{"c", cc, "every.c", readerEveryCall, []string{"-std=c99", "-D_DEFAULT_SOURCE"}, []string{"-O1", "-O3", "-Os", "-Og"}},
		{"c++", cxx, "every.cpp", readerEveryCallCPP, []string{"-std=c++20"}, []string{"-O1"}},
	} {
		src := filepath.Join(dir, c.file)
		if err := os.WriteFile(src, []byte(c.src), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, level := range c.levels {
			t.Run(c.lang+level, func(t *testing.T) {
				t.Parallel()
				args := append(append(append([]string{}, c.flags...), level, "-Wall", "-Wextra", "-Werror"), inc...)
				args = append(args, "-c", "-o", filepath.Join(t.TempDir(), "every.o"), src)
				if out, err := exec.Command(c.compiler, args...).CombinedOutput(); err != nil {
					t.Fatalf("%s %s: %v\n%s", filepath.Base(c.compiler), strings.Join(args, " "), err, out)
				}
			})
		}
	}
}
