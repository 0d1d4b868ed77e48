package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCPPReadFollowsGrowingPage runs bindings/cpp/test/read_retry_test.cpp,
// plain and sanitized: mmsb::bus::read and read_at (over a stand-in
// library the program defines, so libmmsb is not linked) follow a page
// that grew between their calls up to mmsb::detail::read_retries times,
// and give buffer_too_small after that; mmsb::reader::read uses the same
// helper. Before, both read methods retried once: a page freed and
// created again larger between the two calls threw buffer_too_small for
// a page that exists.
func TestCPPReadFollowsGrowingPage(t *testing.T) {
	lookPath(t, "g++")
	src, err := filepath.Abs(filepath.Join("..", "cpp", "test", "read_retry_test.cpp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range cppFlavors {
		t.Run(fl.name, func(t *testing.T) {
			exe := filepath.Join(t.TempDir(), "read_retry_test")
			args := append([]string{"-Wall", "-Wextra", "-Werror"}, fl.flags...)
			args = append(args, "-I.", "-I"+filepath.Join("..", "cpp"), "-o", exe, src)
			if out, err := exec.Command("g++", args...).CombinedOutput(); err != nil {
				t.Fatalf("g++ %v: %v\n%s", args, err, out)
			}
			out, err := runCPP(exe, "read_retry_test: ok")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
