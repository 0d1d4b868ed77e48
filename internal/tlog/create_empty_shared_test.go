package tlog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCreateEmptySegmentKeepsSharedFile: CreateEmptySegment over a name
// that already holds a file shared with another name (a hard link from a
// backup made with `cp -al`, or a symbolic link to an archived segment)
// gives the name a new file holding the header only, and the other name's
// file keeps every byte. Before, the name was opened with truncation
// before rewriteHeader unshared it: the shared file was cut to nothing,
// the backup's copy with it. No temporary name is left behind.
func TestCreateEmptySegmentKeepsSharedFile(t *testing.T) {
	for _, symbolic := range []bool{false, true} {
		name := "hard"
		if symbolic {
			name = "symbolic"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wal")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(t.TempDir(), "kept.log")
			want := []byte("the backup's bytes, which CreateEmptySegment must not touch")
			if err := os.WriteFile(backup, want, 0o600); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, SegmentName(11))
			link := os.Link
			if symbolic {
				link = os.Symlink
			}
			if err := link(backup, path); err != nil {
				t.Skipf("link: %v", err)
			}
			if err := CreateEmptySegment(vfs.Default, dir, 11); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(backup); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the other name's file holds %q (%v), want %q", got, err, want)
			}
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Mode().IsRegular() || st.Size() != SegmentHeaderSize {
				t.Fatalf("%s: mode %v, %d bytes; want a regular file holding the %d-byte header", path, st.Mode(), st.Size(), SegmentHeaderSize)
			}
			// The log continues at 11.
			l, _, err := Open(Options{FS: vfs.Default, Dir: dir, KeepSegment: true}, 10, nil)
			if err != nil {
				t.Fatalf("open the new segment: %v", err)
			}
			defer l.Close()
			if _, err := l.Append(11, 1, []byte("x")); err != nil {
				t.Errorf("append LSN 11 to the new segment: %v", err)
			}
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 {
				var all []string
				for _, n := range names {
					all = append(all, n.Name())
				}
				t.Errorf("%s holds %v, want the segment alone", dir, all)
			}
		})
	}
}

// TestCreateEmptySegmentCrashSafe: a crash before each step of
// CreateEmptySegment (through vfs.ReplaceFile), under every model of what
// unsynced directory entries do, leaves the segment's name holding its
// old file or the whole new header, never a part; once it returns, the
// new header is durable. The segment's .del name holds a directory in one
// case, so the copy goes through the second temporary name.
func TestCreateEmptySegmentCrashSafe(t *testing.T) {
	old := []byte("the old segment's bytes")
	var hdr [SegmentHeaderSize]byte
	want := appendSegmentHeader(hdr[:0], 11)
	for _, dirAtTemp := range []bool{false, true} {
		for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
			t.Run(fmt.Sprintf("directory at temp %v, entries %d", dirAtTemp, entries), func(t *testing.T) {
				mem := vfs.NewMem()
				if err := vfs.MkdirAllAndSync(mem, "/wal"); err != nil {
					t.Fatal(err)
				}
				path := mem.Join("/wal", SegmentName(11))
				f, err := mem.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(old); err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if dirAtTemp {
					if err := vfs.MkdirAllAndSync(mem, path+delSuffix+"/kept"); err != nil {
						t.Fatal(err)
					}
				}
				if err := mem.SyncDir("/wal"); err != nil {
					t.Fatal(err)
				}
				check := func(when string, seed int64, accept ...[]byte) {
					clone := mem.CrashCloneWith(vfs.CrashOptions{Seed: seed, Entries: entries, TornTail: true})
					got := testutil.ReadFile(t, clone, path)
					for _, a := range accept {
						if bytes.Equal(got, a) {
							return
						}
					}
					t.Fatalf("crash %s: %s holds %q", when, path, got)
				}
				ops := 0
				fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
					ops++
					for seed := range int64(4) {
						check(fmt.Sprintf("before op %d (%v)", ops, op), seed, old, want)
					}
					return nil
				}))
				if err := CreateEmptySegment(fs, "/wal", 11); err != nil {
					t.Fatal(err)
				}
				if ops < 6 {
					t.Fatalf("CreateEmptySegment made %d operations: the crash points were not visited", ops)
				}
				check("after it returned", 0, want)
				if dirAtTemp && !mem.Exists(path+delSuffix+"/kept") {
					t.Errorf("the directory at %s was emptied", path+delSuffix)
				}
			})
		}
	}
}
