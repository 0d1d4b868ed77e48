package testutil

import (
	"errors"
	"io"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// ReadFile returns the whole of file path in fs, failing the test if it
// cannot be read.
func ReadFile(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read-only: nothing to lose on close
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return data
}
