package tlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestSegmentNotRegular: a named pipe, a directory or a dangling symbolic
// link under the name of a segment in the middle of the log is a
// *corruption.Error naming the file and what it holds, for Open (with and
// without Repair, which leaves it in place), a Reader (after the records
// before it) and Check (a problem at offset -1, the segments after it
// still checked). Nothing blocks. Before: Open, NewReader's Next and Check
// blocked for ever on the pipe; the directory gave "read ...: is a
// directory" and the dangling link "open ...: no such file or directory",
// plain errors that also stopped Check at the file. The negative control
// is a symbolic link to a copy of the segment: read through like the
// segment itself.
func TestSegmentNotRegular(t *testing.T) {
	for _, kind := range []string{"fifo", "dir", "dangling", "link to a segment"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			recs := genRecords(1, 30, 60)
			writeLog(t, dir, 512, recs)
			infos, clean, _ := checkAll(t, dir)
			if len(infos) < 3 || len(clean) != 0 {
				t.Fatalf("want at least 3 clean segments, have %+v, problems %v", infos, clean)
			}
			mid := infos[1]
			path := mid.File
			var keep []rec // the records outside the middle segment
			for _, r := range recs {
				if r.First < mid.FirstLSN || r.First > mid.LastLSN {
					keep = append(keep, r)
				}
			}
			var what string
			switch kind {
			case "fifo":
				what = "a named pipe"
				must(t, os.Remove(path))
				if err := syscall.Mkfifo(path, 0o600); err != nil {
					testutil.Missing(t, "mkfifo: %v", err)
				}
			case "dir":
				what = "a directory"
				must(t, os.Remove(path))
				must(t, os.Mkdir(path, 0o700))
			case "dangling":
				what = "a dangling symbolic link"
				must(t, os.Remove(path))
				must(t, os.Symlink(filepath.Join(dir, "missing"), path))
			default:
				elsewhere := filepath.Join(t.TempDir(), "segment")
				must(t, os.Rename(path, elsewhere))
				must(t, os.Symlink(elsewhere, path))
			}
			wantErr := func(op string, err error) {
				t.Helper()
				var ce *corruption.Error
				if !errors.As(err, &ce) || ce.File != path || ce.Offset != -1 || ce.Reason != "not a regular file but "+what ||
					!errors.Is(err, corruption.ErrCorruption) {
					t.Errorf("%s: %v, want corruption of %s at offset -1: not a regular file but %s", op, err, path, what)
				}
			}
			var before []rec // the records of the segments before the middle one
			for _, r := range recs {
				if r.First < mid.FirstLSN {
					before = append(before, r)
				}
			}

			// Each call runs in its own goroutine, bounded in time; the
			// assertions follow on the test's goroutine.
			var (
				got   []rec
				probs []Problem
				err   error
			)
			testutil.WithinDeadline(t, "Check", path, func() {
				_, err = Check(vfs.Default, dir, func(r *Record) error {
					got = append(got, rec{r.FirstLSN, r.Count, bytes.Clone(r.Payload)})
					return nil
				}, func(p Problem) { probs = append(probs, p) })
			})
			if err != nil {
				t.Errorf("Check: %v, want findings only", err)
			}
			if what == "" {
				if len(probs) != 0 {
					t.Errorf("Check through a link: problems %v", probs)
				}
				equalRecs(t, got, recs)
			} else {
				if len(probs) != 1 || probs[0] != (Problem{File: path, Offset: -1, Reason: "not a regular file but " + what}) {
					t.Errorf("Check: problems %+v, want only %s at offset -1: not a regular file but %s", probs, path, what)
				}
				equalRecs(t, got, keep)
			}

			got = nil
			testutil.WithinDeadline(t, "Reader", path, func() {
				var r *Reader
				if r, err = NewReader(vfs.Default, dir, 0); err != nil {
					return
				}
				defer r.Close()
				for {
					var x *Record
					if x, err = r.Next(); err != nil {
						return
					}
					got = append(got, rec{x.FirstLSN, x.Count, bytes.Clone(x.Payload)})
				}
			})
			if what == "" {
				if !errors.Is(err, io.EOF) {
					t.Errorf("Reader through a link: %v, want io.EOF", err)
				}
				equalRecs(t, got, recs)
			} else {
				wantErr("Reader", err)
				equalRecs(t, got, before)
			}

			for _, repair := range []bool{false, true} {
				var l *Log
				testutil.WithinDeadline(t, "Open", path, func() {
					got, _, l, err = replay(t, Options{FS: vfs.Default, Dir: dir, Repair: repair}, 0)
				})
				if l != nil {
					must(t, l.Close())
				}
				if what == "" {
					if err != nil {
						t.Errorf("Open through a link: %v", err)
					}
					equalRecs(t, got, recs)
					continue
				}
				wantErr(fmt.Sprintf("Open (repair %v)", repair), err)
				if _, err := os.Lstat(path); err != nil {
					t.Errorf("Open (repair %v) removed %s: %v", repair, path, err)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
