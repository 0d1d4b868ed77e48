package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCReaderShortFiles runs test/reader_short_files_test.c on copies of
// a region written by a Go writer (this process): one whole, one whose ids
// file holds 1 slot where the header publishes more, one whose chunk file
// is shorter than page 1's cell. The Go reader refuses slot files shorter
// than the header's slot capacity (page's mapAt and remapSlots);
// mmsb_reader.h opened them and used the slots they held. Its negative
// control hands the program the whole copy as SHORT_SLOTS: the program
// must fail on it.
func TestCReaderShortFiles(t *testing.T) {
	lookPath(t, "gcc")
	lib := buildLibrary(t)
	d := testutil.ShmTempDir(t, "", "mmsb-c-short-")
	start, err := page.ProcStartTime(os.Getpid())
	if err != nil {
		testutil.Missing(t, "no process start time: %v", err)
	}
	region := filepath.Join(d, "region")
	s, err := page.NewShared(region+".building", 0o600, 1, uint64(os.Getpid()), start)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sl, err := s.Create(1, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Bytes(sl)[0] = 7
	if err := s.Publish(region, 1); err != nil {
		t.Fatal(err)
	}
	cp := func(name string, cut func(dir string)) string {
		dst := filepath.Join(d, name)
		if err := os.Mkdir(dst, 0o700); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(region)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(region, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if cut != nil {
			cut(dst)
		}
		return dst
	}
	truncate := func(path string, n int64) {
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
	good := cp("good", nil)
	shortSlots := cp("short-slots", func(dir string) { truncate(filepath.Join(dir, "ids"), 8) })
	shortChunk := cp("short-chunk", func(dir string) {
		chunk := regexp.MustCompile(`^c[0-9]+\.[0-9]+$`)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if chunk.MatchString(e.Name()) {
				truncate(filepath.Join(dir, e.Name()), 16)
			}
		}
	})
	src := filepath.Join("test", "reader_short_files_test.c")
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"plain", []string{"-O2"}},
		{"sanitized", sanitizers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := compileAndRun(t, "gcc", src, lib, tc.flags, "GOOD="+good, "SHORT_SLOTS="+shortSlots, "SHORT_CHUNK="+shortChunk)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
	t.Run("negative control", func(t *testing.T) {
		out, err := compileAndRun(t, "gcc", src, lib, []string{"-O2"}, "GOOD="+good, "SHORT_SLOTS="+good, "SHORT_CHUNK="+shortChunk)
		if err == nil {
			t.Fatalf("a whole region passed as one with short slot files:\n%s", out)
		}
		if !strings.Contains(out, "== MMSB_READER_ERR_FORMAT") {
			t.Errorf("the control failed for another reason: %v\n%s", err, out)
		}
	})
}
