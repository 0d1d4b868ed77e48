package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestListUnreadableCheckpoint: a name that holds no readable file (a
// dangling link, as an unreadable file would be for a non-root process; a
// named pipe; a directory) is listed with Info.Err naming the file and
// what is wrong, beside the whole checkpoints; opening it fails the same
// way at once. Before, List failed as a whole on the dangling link ("open
// .../checkpoint-...09.ckpt: no such file or directory"), so `mmsb check`
// verified no other checkpoint and Open refused to recover from the whole
// older one; and List, Open and Verify blocked for ever in open(2) on the
// named pipe (`mmsb check` hung).
func TestListUnreadableCheckpoint(t *testing.T) {
	dir := t.TempDir()
	good := writeCheckpoint(t, vfs.Default, dir, 7, sampleRecords(2))
	bad := map[base.LSN]string{9: "not a regular file but a dangling symbolic link", 11: "not a regular file but a named pipe", 13: "not a regular file but a directory"}
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, FileName(9))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, FileName(11)), 0o600); err != nil {
		testutil.Missing(t, "mkfifo: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, FileName(13)), 0o700); err != nil {
		t.Fatal(err)
	}
	infos, err := List(vfs.Default, dir)
	if err != nil {
		t.Fatalf("List: %v, want the unreadable checkpoints listed with their errors", err)
	}
	if got := fmt.Sprint(lsnsOf(infos)); got != "[13 11 9 7]" {
		t.Fatalf("List: %v, want [13 11 9 7]", got)
	}
	for _, in := range infos {
		if in.Path == good {
			if in.Err != nil || in.Size <= HeaderSize {
				t.Errorf("%s: %+v, want its size and no error", good, in)
			}
			continue
		}
		want := bad[in.LSN]
		if in.Err == nil || in.Size != -1 || !strings.Contains(in.Err.Error(), in.Path) || !strings.Contains(in.Err.Error(), want) {
			t.Errorf("LSN %d: %+v, want Size -1 and an error naming %s and %q", in.LSN, in, in.Path, want)
		}
		err := Verify(vfs.Default, in.Path)
		if err == nil || !strings.Contains(err.Error(), in.Path) || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify(%s): %v, want %q", in.Path, err, want)
		}
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("Verify(%s): %v, want ErrNotRegular", in.Path, err)
		}
	}
}

func lsnsOf(infos []Info) []base.LSN {
	var out []base.LSN
	for _, in := range infos {
		out = append(out, in.LSN)
	}
	return out
}

// TestNameHelpers: the names `mmsb check` tells from stray files.
func TestNameHelpers(t *testing.T) {
	if lsn, ok := ParseName(FileName(42)); !ok || lsn != 42 {
		t.Errorf("ParseName(%s) = %d, %v", FileName(42), lsn, ok)
	}
	if !IsTempName(tempName(42)) {
		t.Errorf("IsTempName(%s) = false", tempName(42))
	}
	for _, name := range []string{"checkpoint-42.ckpt", "checkpoint-000000000000000000042.ckpt", FileName(42) + ".bak", "checkpoint-42.ckpt.tmp", ".tmp"} {
		if _, ok := ParseName(name); ok || IsTempName(name) {
			t.Errorf("%q taken for a checkpoint name", name)
		}
	}
}
