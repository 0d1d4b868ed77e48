package main

import (
	"path/filepath"
	"testing"
)

// TestCStructSize runs test/struct_size_test.c, plainly and sanitized: the
// struct_size rule of mmsb_options and mmsb_stats as programs built
// against older and newer headers call the library (see structLayout;
// TestStructSizeRule covers a struct smaller than the library's but at
// least its first published size, which no struct of ABI 1 has yet).
func TestCStructSize(t *testing.T) {
	lookPath(t, "gcc")
	runBuilds(t, "gcc", filepath.Join("test", "struct_size_test.c"), buildLibrary(t), nil, nil)
}
