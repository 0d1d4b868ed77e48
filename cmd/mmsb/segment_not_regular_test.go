package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// plantNotRegular puts something other than a regular file under the name
// of the segment that would follow the log's last one, and returns its
// path and the words an error about it must contain. kind is "fifo",
// "dir" or "dangling".
func plantNotRegular(t *testing.T, walDir string, next base.LSN, kind string) (path, what string) {
	t.Helper()
	path = filepath.Join(walDir, tlog.SegmentName(next))
	switch kind {
	case "fifo":
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			testutil.Missing(t, "mkfifo: %v", err)
		}
		return path, "a named pipe"
	case "dir":
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		return path, "a directory"
	default:
		if err := os.Symlink(filepath.Join(walDir, "missing"), path); err != nil {
			t.Fatal(err)
		}
		return path, "a dangling symbolic link"
	}
}

// TestOfflineCommandsSegmentNotRegular: a named pipe, a directory or a
// dangling symbolic link under a log segment's name is corruption that
// names the file and what it is; Open, check, inspect and replay fail on
// it at once and never block. Before, each of them blocked for ever in
// open(2) on the pipe; on the dangling link check printed "OK" (the log
// check's "no such file" was taken for a missing wal/ and dropped) and
// the others failed with "no such file or directory"; on the directory
// they failed with "read ...: is a directory", neither naming what was
// wrong nor as corruption.
func TestOfflineCommandsSegmentNotRegular(t *testing.T) {
	for _, kind := range []string{"fifo", "dir", "dangling"} {
		t.Run(kind, func(t *testing.T) {
			tb := newTestBus(t)
			path, what := plantNotRegular(t, filepath.Join(tb.dir, "wal"), base.LSN(tb.lastLSN)+1, kind)
			want := "not a regular file but " + what

			testutil.WithinDeadline(t, "Open", path, func() {
				bus, err := mmsb.Open(tb.dir, nil)
				if err == nil {
					_ = bus.Close() // the test has failed already
					t.Errorf("Open succeeded, want ErrCorruption naming %s", path)
					return
				}
				if !errors.Is(err, mmsb.ErrCorruption) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
					t.Errorf("Open: %v, want ErrCorruption naming %s and %q", err, path, want)
				}
			})
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("Open removed or changed %s: %v", path, err)
			}

			testutil.WithinDeadline(t, "check", path, func() {
				r := runCLI(t, "check", "--json", tb.dir)
				if r.code != exitFailure {
					t.Errorf("check: exit %d, want %d\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
					return
				}
				var rep checkReport
				r.decodeJSON(t, &rep)
				found := false
				for _, p := range rep.Problems {
					found = found || p.File == path && strings.Contains(p.Reason, want)
				}
				if !found {
					t.Errorf("check does not report %s as %q; problems: %+v", path, want, rep.Problems)
				}
			})

			for _, args := range [][]string{
				{"inspect", tb.dir},
				{"replay", tb.dir, "--out", filepath.Join(t.TempDir(), "out")},
			} {
				testutil.WithinDeadline(t, args[0], path, func() {
					r := runCLI(t, args...)
					if r.code != exitFailure || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, want) {
						t.Errorf("%s: exit %d, want %d and an error naming %s and %q\nstdout:\n%s\nstderr:\n%s",
							args[0], r.code, exitFailure, path, want, r.stdout, r.stderr)
					}
				})
			}
		})
	}
}
