package main

import (
	"path/filepath"
	"testing"
)

// TestCMetadata runs test/meta_test.c, plain and under ASan + UBSan: page
// metadata from C (ABI 1.2). Pages created with metadata carry it in the
// same batch; mmsb_page_meta follows mmsb_read's buffer rule and gives the
// documented encoding; mmsb_meta_decode splits it (and refuses encodings cut
// short, with trailing bytes, a zero count, a count or lengths past the
// bytes, over 64 KiB); mmsb_set_metadata replaces (duplicate keys: first
// place, last value) and clears. A NUL in a key, a NULL key or value with a
// length, more than 8191 entries or lengths up to SIZE_MAX over a one-byte
// buffer are refused with a status and a message naming them, before
// anything is read, nothing logged or created; the metadata survives a
// reopen, a checkpoint with a log tail after it, and both replay checks.
// 20,000 mutated encodings (a fixed seed) decode into entries that tile
// the bytes or are refused with nothing written, and four threads on one
// page always read one thread's entries whole. Control (without the NUL
// check and the entry-count bound): "= MMSB_OK, want MMSB_ERR_INVALID_ARGUMENT", an entry read from past the
// caller's one-entry array ("entry 1 (key_len 3, value_len 94320649242016)"),
// and SIZE_MAX entries MMSB_ERR_INTERNAL ("unsafe.Slice: len out of range").
func TestCMetadata(t *testing.T) {
	lookPath(t, "gcc")
	runBuilds(t, "gcc", filepath.Join("test", "meta_test.c"), buildLibrary(t), []string{"-std=gnu11"}, nil)
}

// TestPythonWriterMetadata runs python/tests/test_writer_meta.py: the
// Python writer's Bus.metadata, set_metadata and create_pages(meta=) over
// the same functions, its refusals (NUL in a key, 8192 entries, 64 KiB,
// wrong types, a str with no UTF-8 form, a value exporting no buffer)
// changing nothing, each with the binding's class naming the entry
// (control: a bare UnicodeEncodeError / ValueError for the last two).
func TestPythonWriterMetadata(t *testing.T) {
	py := python(t)
	lib := buildLibrary(t)
	out, err := runPytest(t, py, filepath.Join(repoRoot, "python", "tests", "test_writer_meta.py"), lib, 10)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
