package main

import (
	"path/filepath"
	"testing"
)

// TestCPPMetadata runs bindings/cpp/test/meta_test.cpp, plain and under
// ASan + UBSan: mmsb.hpp's page metadata (create_pages with metadata,
// meta(), set_metadata(), meta_value()), values with NUL bytes and larger
// than the first read buffer, and a NUL in a key, 8192 entries or 64 KiB of
// value throwing invalid_argument or invalid_page with nothing logged or
// created. Code written for ABI 1.1, create_pages(sizes, {}) (no IDs),
// still compiles: the metadata overload had made it ambiguous (control:
// "call of overloaded 'create_pages(...)' is ambiguous").
func TestCPPMetadata(t *testing.T) {
	lookPath(t, "g++")
	lib := buildLibrary(t)
	src, err := filepath.Abs(filepath.Join("..", "cpp", "test", "meta_test.cpp"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range cppFlavors {
		t.Run(fl.name, func(t *testing.T) {
			exe, err := compileCPP(t, src, lib, fl.flags)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := runCPP(exe, "meta_test: ok", t.TempDir()); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
