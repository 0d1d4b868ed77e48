package tlog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOpenKeepsHardLinkedBackup: the last segment hard-linked into a
// backup (cp -al, rsync --link-dest, taken while the bus ran) shares its
// file with the backup. Open changes that segment in place: it cuts a
// torn tail, Repair cuts a damaged record and what follows, and the log
// appends to it. Each is made to a copy of the segment's own, and the
// backup keeps every byte it had. Before, the torn tail's cut and
// Repair's truncation cut the backup's file too, and the records
// appended after Open went into it. The log itself recovers as before,
// and the temporary copy's name is not left behind.
//
// The same holds for a last segment that is a symbolic link to a file
// elsewhere (an archived segment linked back into the log directory):
// the file it points to is another name's, and keeps every byte; the
// name gets a copy of its own. Before, Unshare followed the link and saw
// one hard link, and the cuts and appends went into the archive.
func TestOpenKeepsHardLinkedBackup(t *testing.T) {
	src := t.TempDir()
	recs := genRecords(1, 3, 50)
	recs[2].Payload = payloadFor(9, 50)
	writeLog(t, src, 0, recs)
	files, offs := recordOffsets(t, src)
	seg, lastOff := filepath.Base(files[2]), offs[2]
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string) // made through the shared file
		opts   Options
		want   int // records recovered
	}{
		{"torn-tail", func(t *testing.T, path string) {
			if err := os.Truncate(path, lastOff+5); err != nil {
				t.Fatal(err)
			}
		}, Options{}, 2},
		{"repair", func(t *testing.T, path string) { flipByte(t, path, lastOff+20) }, Options{Repair: true}, 2},
		{"clean", func(*testing.T, string) {}, Options{}, 3},
	} {
		for _, symbolic := range []bool{false, true} {
			name, what := "hard/"+tc.name, "hard-linked backup"
			if symbolic {
				name, what = "symbolic/"+tc.name, "symbolic link's target"
			}
			t.Run(name, func(t *testing.T) {
				dir := copyDir(t, src)
				path := filepath.Join(dir, seg)
				backup := filepath.Join(t.TempDir(), seg)
				if !symbolic {
					if err := os.Link(path, backup); err != nil {
						testutil.Missing(t, "hard link: %v", err)
					}
				} else {
					if err := os.Rename(path, backup); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(backup, path); err != nil {
						testutil.Missing(t, "symbolic link: %v", err)
					}
				}
				tc.damage(t, path)
				want, err := os.ReadFile(backup)
				if err != nil {
					t.Fatal(err)
				}
				opts := tc.opts
				opts.FS, opts.Dir = vfs.Default, dir
				got, _, l, err := replay(t, opts, 0)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				equalRecs(t, got, recs[:tc.want])
				more := genRecords(l.LastLSN()+1, 2, 40)
				appendAll(t, l, more)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				if b, err := os.ReadFile(backup); err != nil || !bytes.Equal(b, want) {
					t.Errorf("the %s is %d bytes (%v), want its %d untouched", what, len(b), err, len(want))
				}
				if all, err := readAll(t, dir, 0); err != nil {
					t.Fatalf("read back: %v", err)
				} else {
					equalRecs(t, all, append(append([]rec(nil), recs[:tc.want]...), more...))
				}
				if _, err := os.Lstat(path + delSuffix); !os.IsNotExist(err) {
					t.Errorf("the copy's temporary name is left: %v", err)
				}
				if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
					t.Errorf("the segment's name does not hold a file of its own: %v", err)
				}
			})
		}
	}
}
