//go:build unix

package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestCheckpointListingUsersAgree: for each kind of thing under a
// checkpoint's name past the log's end, the listing (checkpoint.ListFiles),
// recovery (Open), mmsb.Replay, and the integrity and replay validators
// agree on whether it is a checkpoint: a directory, a named pipe and a
// symbolic link to a directory hold no checkpoint file and are passed
// over (Open and Replay say so in Recovery().SkippedCheckpoint, the
// validators in a note, in the words of Info.PassedOver); a damaged file,
// a symbolic link to a file that does not load there, and a dangling
// symbolic link (a checkpoint on a disk not mounted) may stand for
// commits the log does not hold, and all of them refuse the directory.
func TestCheckpointListingUsersAgree(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		notCkp bool // holds no checkpoint file: passed over
		make   func(t *testing.T, path, good string)
	}{
		{"directory", true, func(t *testing.T, path, _ string) {
			if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"named pipe", true, func(t *testing.T, path, _ string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				testutil.Missing(t, "mkfifo: %v", err)
			}
		}},
		{"link to directory", true, func(t *testing.T, path, _ string) {
			target := t.TempDir()
			if err := os.Symlink(target, path); err != nil {
				testutil.Missing(t, "symlink: %v", err)
			}
		}},
		{"damaged file", false, func(t *testing.T, path, _ string) {
			if err := os.WriteFile(path, []byte("not a checkpoint"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"link to file", false, func(t *testing.T, path, good string) {
			// A whole checkpoint, of another LSN than its name says.
			if err := os.Symlink(good, path); err != nil {
				testutil.Missing(t, "symlink: %v", err)
			}
		}},
		{"dangling link", false, func(t *testing.T, path, _ string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "unmounted", "ckpt"), path); err != nil {
				testutil.Missing(t, "symlink: %v", err)
			}
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "bus")
			opts := &mmsb.Options{Clock: testClock(), CheckpointBytes: -1}
			e, err := mmsb.Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			populate(t, e, 4, 2)
			ck, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			populate(t, e, 2, 1)
			last := e.LastLSN()
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, "checkpoints", checkpoint.FileName(last+100))
			tc.make(t, name, ck.Path)

			// The listing.
			ckpts, notFiles, err := checkpoint.ListFiles(vfs.Default, filepath.Join(dir, "checkpoints"))
			if err != nil {
				t.Fatal(err)
			}
			listed := func(infos []checkpoint.Info) bool {
				for _, c := range infos {
					if c.Path == name {
						return true
					}
				}
				return false
			}
			if listed(notFiles) != tc.notCkp || listed(ckpts) == tc.notCkp {
				t.Fatalf("ListFiles: among the names holding no file %v, among the checkpoints %v; want %v and %v", listed(notFiles), listed(ckpts), tc.notCkp, !tc.notCkp)
			}
			says := func(lines []string) bool {
				for _, l := range lines {
					if strings.Contains(l, name) && strings.Contains(l, "holds no checkpoint file") {
						return true
					}
				}
				return false
			}

			// Recovery and Replay.
			var verdicts []string
			if b, err := mmsb.Open(dir, opts); err == nil {
				verdicts = append(verdicts, fmt.Sprintf("Open: passed over %v", says(b.Recovery().SkippedCheckpoint)))
				if cerr := b.Close(); cerr != nil {
					t.Fatal(cerr)
				}
			} else {
				verdicts = append(verdicts, "Open: refused")
			}
			if b, err := mmsb.Replay(ctx, dir, mmsb.ReplayTarget{}, opts); err == nil {
				verdicts = append(verdicts, fmt.Sprintf("Replay: passed over %v", says(b.Recovery().SkippedCheckpoint)))
				if cerr := b.Close(); cerr != nil {
					t.Fatal(cerr)
				}
			} else {
				verdicts = append(verdicts, "Replay: refused")
			}
			// The validators, offline.
			for _, v := range []struct {
				name string
				fn   func() (Report, error)
			}{
				{"integrity", func() (Report, error) { return Integrity(ctx, Offline(vfs.Default, dir, nil), Options{}) }},
				{"replay", func() (Report, error) { return Replay(ctx, Offline(vfs.Default, dir, nil), Options{}) }},
			} {
				rep, err := v.fn()
				if err == nil && rep.OK() {
					verdicts = append(verdicts, fmt.Sprintf("%s: passed over %v", v.name, says(rep.Notes)))
				} else {
					verdicts = append(verdicts, v.name+": refused")
				}
			}
			var want []string
			for _, user := range []string{"Open", "Replay", "integrity", "replay"} {
				if tc.notCkp {
					want = append(want, user+": passed over true")
				} else {
					want = append(want, user+": refused")
				}
			}
			if got, w := strings.Join(verdicts, "; "), strings.Join(want, "; "); got != w {
				t.Errorf("%s under %s:\n got %s\nwant %s", tc.kind, filepath.Base(name), got, w)
			}
		})
	}
}
