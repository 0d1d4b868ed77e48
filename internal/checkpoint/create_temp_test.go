package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCreateUnlinksTempLink: a symbolic link under the temporary name of
// the checkpoint being written (checkpoint-<LSN>.ckpt.tmp, put there
// after Open's RemoveTemp) is removed, not followed: its target keeps its
// bytes, and the checkpoint is a file of its own under its final name.
// Before, Create opened the link with O_TRUNC, truncated the target and
// wrote the checkpoint into it; the rename then made the final name a
// link to that file.
func TestCreateUnlinksTempLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, tempName(7))); err != nil {
		testutil.Missing(t, "symlink: %v", err)
	}
	path := writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(3))
	if got, err := os.ReadFile(victim); err != nil || string(got) != "someone else's" {
		t.Fatalf("the link's target holds %d bytes (%q…), %v: the checkpoint was written through the link", len(got), got[:min(len(got), 8)], err)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("%s: %v, %v; want a regular file", path, st, err)
	}
	if lsn, recs, err := readCheckpoint(vfs.Default, path); err != nil || lsn != 7 || len(recs) != 3 {
		t.Fatalf("read back: LSN %d, %d records, %v", lsn, len(recs), err)
	}
}

// TestCreateBesideDirectoryAtTemp: a directory holding files under the
// temporary name of a checkpoint's LSN (an operator's, a restored backup
// tree: RemoveTemp passes over it) does not stop the checkpoint at that
// LSN: it is written under the second temporary name
// (checkpoint-<LSN>.alt.ckpt.tmp) and renamed into place, and the
// directory is left with its file, on MemFS and the operating system's
// filesystem. The second name is a temporary one for IsTempName and
// RemoveTemp. Before, Create failed ("is a directory") at that LSN every
// time.
func TestCreateBesideDirectoryAtTemp(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"memory", vfs.NewMem(), "/ck"},
		{"os", vfs.Default, t.TempDir()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := tc.fs
			kept := fs.Join(tc.dir, tempName(9), "notes")
			if err := fs.MkdirAll(fs.Join(tc.dir, tempName(9))); err != nil {
				t.Fatal(err)
			}
			f, err := fs.Create(kept)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("the operator's")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			w, err := Create(fs, tc.dir, 9)
			if err != nil {
				t.Fatalf("Create beside a directory at %s: %v", tempName(9), err)
			}
			for _, r := range sampleRecords(2) {
				if err := w.Append(r.kind, r.payload); err != nil {
					t.Fatal(err)
				}
			}
			path, err := w.Commit()
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(fs, path); err != nil {
				t.Fatal(err)
			}
			if got := string(testutil.ReadFile(t, fs, kept)); got != "the operator's" {
				t.Fatalf("the directory's file holds %q", got)
			}
			if !IsTempName(altTempName(9)) || IsTempName("checkpoint-9.alt.ckpt.tmp") || IsTempName("checkpoint-00000000000000000009.alt.ckpt") {
				t.Fatalf("IsTempName: %q is one, the others are not", altTempName(9))
			}
			// A crash left the second name: RemoveTemp removes it, and
			// the directory stays.
			alt := fs.Join(tc.dir, altTempName(9))
			if f, err := fs.Create(alt); err != nil {
				t.Fatal(err)
			} else if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := RemoveTemp(fs, tc.dir); err == nil || !strings.Contains(err.Error(), tempName(9)) {
				t.Fatalf("RemoveTemp: %v; want the directory's name reported", err)
			}
			if fs.Exists(alt) {
				t.Errorf("%s left behind by RemoveTemp", alt)
			}
			if !fs.Exists(kept) {
				t.Errorf("%s removed", kept)
			}
			// A directory under both names fails Create, naming both.
			if err := fs.MkdirAll(fs.Join(alt, "x")); err != nil {
				t.Fatal(err)
			}
			if _, err := Create(fs, tc.dir, 9); err == nil || !strings.Contains(err.Error(), alt) || !strings.Contains(err.Error(), tempName(9)) {
				t.Fatalf("Create with directories under both names: %v; want an error naming both", err)
			}
		})
	}
}

// TestCreateUnlinksDanglingTempLink: a dangling symbolic link under the
// temporary name is removed too, not followed: the file it names is not
// created. Before, Create made the file the link pointed to, outside the
// checkpoint directory, and wrote the checkpoint there.
func TestCreateUnlinksDanglingTempLink(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(elsewhere, filepath.Join(dir, tempName(7))); err != nil {
		testutil.Missing(t, "symlink: %v", err)
	}
	path := writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(1))
	if _, err := os.Lstat(elsewhere); !os.IsNotExist(err) {
		t.Fatalf("%s: %v; want nothing made there", elsewhere, err)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("%s: %v, %v; want a regular file", path, st, err)
	}
}
