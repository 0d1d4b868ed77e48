package mmsb_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReaderConfigurationMistakes: a SharedDir that does not exist was
// ErrWriterGone (callers retry that for ever) where Open refuses the same
// value as ErrInvalidOption; a SharedDir that is a file gave a bare
// "lstat ...: not a directory" with no sentinel of the package; a file
// given as the bus directory was ErrWriterGone "no shared region". Each
// is ErrInvalidOption naming the path, as the C and Python readers
// answer. A bus directory whose writer has not published stays
// ErrWriterGone, and the right SharedDir opens.
func TestReaderConfigurationMistakes(t *testing.T) {
	dir, shm := t.TempDir(), shmTestDir(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "none")
	for _, c := range []struct {
		name, dir, sharedDir, want string
	}{
		{"SharedDir missing", dir, missing, "SharedDir " + missing + " does not exist"},
		{"SharedDir a file", dir, file, "SharedDir " + file + " is not a directory"},
		{"SharedDir through a file", dir, filepath.Join(file, "x"), "SharedDir " + filepath.Join(file, "x") + " is not a directory"},
		{"bus directory a file", file, shm, "the bus directory " + file + " is not a directory"},
	} {
		rd, err := mmsb.OpenReader(c.dir, &mmsb.ReaderOptions{SharedDir: c.sharedDir})
		if rd != nil {
			rd.Close()
		}
		if !errors.Is(err, mmsb.ErrInvalidOption) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: OpenReader = %v; want ErrInvalidOption saying %q", c.name, err, c.want)
		}
	}
	if rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm}); !errors.Is(err, mmsb.ErrWriterGone) {
		if rd != nil {
			rd.Close()
		}
		t.Errorf("no writer yet: OpenReader = %v; want ErrWriterGone", err)
	}
	b := openShared(t, dir, shm)
	if _, err := b.CreatePage(context.Background(), mmsb.PageSpec{Size: 64}); err != nil {
		t.Fatal(err)
	}
	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatalf("the writer's SharedDir: %v", err)
	}
	rd.Close()
}
