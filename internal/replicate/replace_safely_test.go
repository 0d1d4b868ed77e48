package replicate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// plantTempLink puts a symbolic link at name to a file outside dir holding
// "outside", and returns that file's path.
func plantTempLink(t *testing.T, name string) string {
	t.Helper()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, name); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	return outside
}

// checkLinkTarget fails when the file outside holds anything but
// "outside": a write followed the link to it.
func checkLinkTarget(t *testing.T, outside string) {
	t.Helper()
	b, err := os.ReadFile(outside)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "outside" {
		t.Errorf("the link's target %s now holds %q: written through the link at the temporary name", outside, b)
	}
}

// checkRegularFile fails unless path is a regular file holding want.
func checkRegularFile(t *testing.T, path string, want []byte) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file", path, st.Mode())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s holds %q, want %q", path, b, want)
	}
}

// checkNoFile fails when path exists (a temporary file left behind).
func checkNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s left after the failure (lstat: %v)", path, err)
	}
}

// saveTerm writes the term file through vfs.ReplaceFile: a symbolic link
// at its temporary name (left by someone else) is replaced, not written
// through, and a failure after the temporary file is written (here the
// term file's name held by a directory) leaves no temporary file. With
// os.WriteFile, before, the term went into the link's target and the
// temporary file stayed after the failed rename.
func TestSaveTermReplacesSafely(t *testing.T) {
	t.Run("link", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, termFile)
		outside := plantTempLink(t, path+".tmp")
		if err := saveTerm(dir, "S@1", 7); err != nil {
			t.Fatal(err)
		}
		checkLinkTarget(t, outside)
		checkRegularFile(t, path, termLine("S@1", 7))
		checkNoFile(t, path+".tmp")
	})

	// A directory (not empty) under the term file's name: the rename
	// fails, and nothing is left under the temporary name.
	t.Run("failure", func(t *testing.T) {
		dir2 := t.TempDir()
		path2 := filepath.Join(dir2, termFile)
		if err := os.MkdirAll(filepath.Join(path2, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := saveTerm(dir2, "S@1", 8); err == nil {
			t.Fatalf("saveTerm over a directory named %s: no error", path2)
		}
		checkNoFile(t, path2+".tmp")
	})
}

// saveMarker, likewise: the replica marker is written through
// vfs.ReplaceFile.
func TestSaveMarkerReplacesSafely(t *testing.T) {
	t.Run("link", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, markerFile)
		outside := plantTempLink(t, path+".tmp")
		if err := saveMarker(dir, "MMSB_LOG_x"); err != nil {
			t.Fatal(err)
		}
		checkLinkTarget(t, outside)
		checkRegularFile(t, path, markerLine("MMSB_LOG_x"))
		checkNoFile(t, path+".tmp")
	})

	t.Run("failure", func(t *testing.T) {
		dir2 := t.TempDir()
		path2 := filepath.Join(dir2, markerFile)
		if err := os.MkdirAll(filepath.Join(path2, "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := saveMarker(dir2, "MMSB_LOG_x"); err == nil {
			t.Fatalf("saveMarker over a directory named %s: no error", path2)
		}
		checkNoFile(t, path2+".tmp")
	})
}

// downloadCheckpoint downloads through vfs.ReplaceFile: a symbolic link
// at the download's temporary name is replaced, not written through.
// Before, jetstream's GetFile opened the name as it found it: the
// checkpoint's bytes went into the link's target, and the link itself was
// renamed into place as the checkpoint.
func TestDownloadCheckpointReplacesSafely(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := startTestCluster(t, 1)
	res := testResources(t, c, testConfig(1))
	pub := newPublisher(res, 1, 0, 0, nil, &Metrics{})
	leader := openLeader(t, t.TempDir(), pub)
	defer func() { _ = leader.Close(); pub.close() }()
	pages := createPages(t, leader, 2)
	if _, err := load(ctx, leader, pages, 1, 2, 2); err != nil {
		t.Fatal(err)
	}
	lsn, err := archiveCheckpoint(ctx, res, leader, pub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	ckDir := t.TempDir()
	final := filepath.Join(ckDir, ckptFileName(lsn))
	outside := plantTempLink(t, final+".tmp")
	if err := downloadCheckpoint(ctx, res, ckDir, lsn); err != nil {
		t.Fatal(err)
	}
	checkLinkTarget(t, outside)
	st, err := os.Lstat(final)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file (the download renamed the link at its temporary name into place)", final, st.Mode())
	}
	if err := verifyCheckpoint(final, lsn); err != nil {
		t.Fatal(err)
	}
	checkNoFile(t, final+".tmp")

	// An object that is not there: a damagedCheckpoint, and nothing left.
	if err := downloadCheckpoint(ctx, res, ckDir, lsn+1000); err == nil {
		t.Fatal("a download of a checkpoint not stored: no error")
	} else if !errors.As(err, new(damagedCheckpoint)) {
		t.Errorf("a download of a checkpoint not stored: %T %v, want a damagedCheckpoint", err, err)
	}
	checkNoFile(t, filepath.Join(ckDir, ckptFileName(lsn+1000))+".tmp")
	checkNoFile(t, filepath.Join(ckDir, ckptFileName(lsn+1000)))
}
