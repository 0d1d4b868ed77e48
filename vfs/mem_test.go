package vfs_test

import (
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
	"pgregory.net/rapid"
)

// dump returns every file and directory under dir: files map to their
// contents, directories to "<dir>". It uses only the FS interface.
func dump(t testing.TB, fs vfs.FS, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(d string)
	walk = func(d string) {
		if d == "" {
			d = "." // "" names nothing, on MemFS as on the OS
		}
		names, err := fs.List(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := fs.Join(d, n)
			if _, err := fs.List(p); err == nil {
				out[p] = "<dir>"
				walk(p)
				continue
			}
			f, err := fs.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			sz, err := f.Size()
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, sz)
			if _, err := f.ReadAt(b, 0); err != nil && sz > 0 {
				t.Fatal(err)
			}
			f.Close()
			out[p] = string(b)
		}
	}
	walk(dir)
	return out
}

// mustCreate creates name with data, optionally syncing the file.
func mustCreate(t *testing.T, fs vfs.FS, name, data string, sync bool) vfs.File {
	t.Helper()
	f, err := fs.Create(name)
	ck(t, err)
	_, err = f.Write([]byte(data))
	ck(t, err)
	if sync {
		ck(t, f.Sync())
	}
	return f
}

func TestCrashCloneStrict(t *testing.T) {
	type state = map[string]string
	cases := []struct {
		name string
		run  func(t *testing.T, fs *vfs.MemFS)
		want state
	}{
		{"empty", func(t *testing.T, fs *vfs.MemFS) {}, state{}},
		// Directories: mkdir is durable once the parent is synced, as on a
		// real filesystem (MkdirAll was once durable at once, which hid a
		// missing parent fsync in the engine).
		{"unsynced-mkdir-lost", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("a/b"))
		}, state{}},
		{"mkdir-lost-with-its-synced-files", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("d"))
			mustCreate(t, fs, "d/f", "data", true)
			ck(t, fs.SyncDir("d"))
		}, state{}},
		{"mkdir-durable-per-parent", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("a/b"))
			ck(t, fs.SyncDir("."))
		}, state{"a": "<dir>"}},
		{"synced-mkdir", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("a/b"))
			ck(t, fs.SyncDir("."))
			ck(t, fs.SyncDir("a"))
		}, state{"a": "<dir>", "a/b": "<dir>"}},
		{"MkdirAllAndSync", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, vfs.MkdirAllAndSync(fs, "a/b/c"))
			mustCreate(t, fs, "a/b/c/f", "data", true)
			ck(t, fs.SyncDir("a/b/c"))
		}, state{"a": "<dir>", "a/b": "<dir>", "a/b/c": "<dir>", "a/b/c/f": "data"}},
		{"unsynced-create-lost", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("d"))
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "d/f", "data", true)
		}, state{"d": "<dir>"}},
		{"synced-entry-unsynced-data", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "f", "data", false)
			ck(t, fs.SyncDir("/"))
		}, state{"f": ""}},
		{"synced-entry-and-data", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "f", "data", true)
			ck(t, fs.SyncDir("."))
		}, state{"f": "data"}},
		{"writes-after-sync-lost", func(t *testing.T, fs *vfs.MemFS) {
			f := mustCreate(t, fs, "f", "data", true)
			ck(t, fs.SyncDir("."))
			_, err := f.Write([]byte("-more"))
			ck(t, err)
		}, state{"f": "data"}},
		{"sync-by-another-handle", func(t *testing.T, fs *vfs.MemFS) {
			f := mustCreate(t, fs, "f", "data", false)
			ck(t, fs.SyncDir("."))
			g, err := fs.Open("f")
			ck(t, err)
			ck(t, g.Sync()) // fdatasync syncs the file, whichever handle
			ck(t, f.Close())
		}, state{"f": "data"}},
		{"truncate-after-sync-undone", func(t *testing.T, fs *vfs.MemFS) {
			f := mustCreate(t, fs, "f", "0123456789", true)
			ck(t, fs.SyncDir("."))
			ck(t, f.Truncate(3))
		}, state{"f": "0123456789"}},
		{"rewrite-after-truncate-keeps-synced-bytes", func(t *testing.T, fs *vfs.MemFS) {
			// Sync shares memory with the live contents; overwriting it
			// after a truncation must not change what is durable.
			f := mustCreate(t, fs, "f", "0123456789", true)
			ck(t, fs.SyncDir("."))
			ck(t, f.Truncate(2))
			_, err := f.Write([]byte("XYZ")) // lands at offset 10
			ck(t, err)
			g, err := fs.Create("f") // truncate to 0 and rewrite
			ck(t, err)
			_, err = g.Write([]byte("abcdefghijklmn"))
			ck(t, err)
		}, state{"f": "0123456789"}},
		{"create-over-synced-file-undone", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "f", "old", true)
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "f", "new!", false)
		}, state{"f": "old"}},
		{"unsynced-remove-undone", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "f", "data", true)
			ck(t, fs.SyncDir("."))
			ck(t, fs.Remove("f"))
		}, state{"f": "data"}},
		{"synced-remove", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "f", "data", true)
			ck(t, fs.SyncDir("."))
			ck(t, fs.Remove("f"))
			ck(t, fs.SyncDir("."))
		}, state{}},
		{"unsynced-rename-undone", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "CURRENT", "v1", true)
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "CURRENT.tmp", "v2", true)
			ck(t, fs.Rename("CURRENT.tmp", "CURRENT"))
		}, state{"CURRENT": "v1"}},
		{"synced-rename-replaces", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "CURRENT", "v1", true)
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "CURRENT.tmp", "v2", true)
			ck(t, fs.Rename("CURRENT.tmp", "CURRENT"))
			ck(t, fs.SyncDir("."))
		}, state{"CURRENT": "v2"}},
		{"rename-without-file-sync-gives-empty", func(t *testing.T, fs *vfs.MemFS) {
			// The classic bug: rename before fsync of the data.
			mustCreate(t, fs, "CURRENT", "v1", true)
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "CURRENT.tmp", "v2", false)
			ck(t, fs.Rename("CURRENT.tmp", "CURRENT"))
			ck(t, fs.SyncDir("."))
		}, state{"CURRENT": ""}},
		{"cross-dir-rename-half-synced", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("a"))
			ck(t, fs.MkdirAll("b"))
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "a/f", "data", true)
			ck(t, fs.SyncDir("a"))
			ck(t, fs.Rename("a/f", "b/f"))
			ck(t, fs.SyncDir("b")) // the new name is durable, the removal is not
		}, state{"a": "<dir>", "b": "<dir>", "a/f": "data", "b/f": "data"}},
		{"syncdir-covers-only-its-dir", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, fs.MkdirAll("a"))
			ck(t, fs.SyncDir("."))
			mustCreate(t, fs, "a/f", "data", true)
			mustCreate(t, fs, "g", "data", true)
			ck(t, fs.SyncDir("a"))
		}, state{"a": "<dir>", "a/f": "data"}},
		{"unsynced-dir-removal-undone", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, vfs.MkdirAllAndSync(fs, "a/b"))
			ck(t, fs.Remove("a/b"))
		}, state{"a": "<dir>", "a/b": "<dir>"}},
		{"synced-dir-removal", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, vfs.MkdirAllAndSync(fs, "a/b"))
			ck(t, fs.Remove("a/b"))
			ck(t, fs.SyncDir("a"))
		}, state{"a": "<dir>"}},
		{"renamed-dir-keeps-durable-entries", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, vfs.MkdirAllAndSync(fs, "a"))
			mustCreate(t, fs, "a/f", "data", true)
			ck(t, fs.SyncDir("a"))
			mustCreate(t, fs, "a/g", "unsynced entry", true)
			ck(t, fs.Rename("a", "b"))
			ck(t, fs.SyncDir("."))
		}, state{"b": "<dir>", "b/f": "data"}},
		{"unsynced-dir-rename-undone", func(t *testing.T, fs *vfs.MemFS) {
			ck(t, vfs.MkdirAllAndSync(fs, "a"))
			mustCreate(t, fs, "a/f", "data", true)
			ck(t, fs.SyncDir("a"))
			ck(t, fs.Rename("a", "b"))
		}, state{"a": "<dir>", "a/f": "data"}},
		{"mkdir-over-unsynced-file-removal", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "x", "data", true)
			ck(t, fs.SyncDir("."))
			ck(t, fs.Remove("x"))
			ck(t, fs.MkdirAll("x"))
		}, state{"x": "data"}},
		{"mkdir-over-synced-file-removal", func(t *testing.T, fs *vfs.MemFS) {
			mustCreate(t, fs, "x", "data", true)
			ck(t, fs.SyncDir("."))
			ck(t, fs.Remove("x"))
			ck(t, fs.MkdirAll("x"))
			ck(t, fs.SyncDir("."))
		}, state{"x": "<dir>"}},
		{"lock-file-entry-follows-syncdir", func(t *testing.T, fs *vfs.MemFS) {
			l, err := fs.Lock("LOCK")
			ck(t, err)
			defer l.Close()
			ck(t, fs.SyncDir("."))
		}, state{"LOCK": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vfs.NewMem()
			c.run(t, fs)
			before := dump(t, fs, "")
			img := fs.CrashClone()
			if got := dump(t, img, ""); !maps.Equal(got, c.want) {
				t.Fatalf("crash image = %q, want %q", got, c.want)
			}
			// The original is unchanged, and the image is entirely durable:
			// crashing it again changes nothing.
			if after := dump(t, fs, ""); !maps.Equal(before, after) {
				t.Fatalf("CrashClone changed the original: %q -> %q", before, after)
			}
			if again := dump(t, img.CrashClone(), ""); !maps.Equal(again, c.want) {
				t.Fatalf("image of image = %q, want %q", again, c.want)
			}
		})
	}
}

func TestCrashCloneIndependentAndUnlocked(t *testing.T) {
	fs := vfs.NewMem()
	l, err := fs.Lock("LOCK")
	ck(t, err)
	defer l.Close()
	f := mustCreate(t, fs, "f", "data", true)
	ck(t, fs.SyncDir("."))
	img := fs.CrashClone()
	l2, err := img.Lock("LOCK")
	if err != nil {
		t.Fatalf("lock held in crash image: %v", err)
	}
	ck(t, l2.Close())
	_, err = f.Write([]byte("+orig"))
	ck(t, err)
	ck(t, f.Sync())
	g, err := img.OpenAppend("f")
	ck(t, err)
	_, err = g.Write([]byte("+img"))
	ck(t, err)
	if got := readFile(t, fs, "f"); got != "data+orig" {
		t.Fatalf("original = %q", got)
	}
	if got := readFile(t, img, "f"); got != "data+img" {
		t.Fatalf("image = %q", got)
	}
}

func TestCrashCloneTornTail(t *testing.T) {
	build := func() *vfs.MemFS {
		fs := vfs.NewMem()
		f := mustCreate(t, fs, "log", "synced|", true)
		ck(t, fs.SyncDir("."))
		_, err := f.Write([]byte("unsynced-tail"))
		ck(t, err)
		// A file whose unsynced change is a truncation is not torn.
		g := mustCreate(t, fs, "trunc", "0123456789", true)
		ck(t, g.Truncate(4))
		_, err = g.Write([]byte("zz"))
		ck(t, err)
		ck(t, fs.SyncDir("."))
		return fs
	}
	fs := build()
	lengths := map[int]bool{}
	for seed := range int64(200) {
		opts := vfs.CrashOptions{Seed: seed, TornTail: true}
		got := readFile(t, fs.CrashCloneWith(opts), "log")
		isPrefix := strings.HasPrefix("synced|unsynced-tail", got) //nolint:gocritic // got must be a prefix of the whole sequence
		if !isPrefix || len(got) < len("synced|") {
			t.Fatalf("seed %d: torn contents %q are not a prefix at least the synced part", seed, got)
		}
		lengths[len(got)] = true
		// Same state and seed: same image (also from an identically built FS).
		if again := readFile(t, build().CrashCloneWith(opts), "log"); again != got {
			t.Fatalf("seed %d: not deterministic: %q then %q", seed, got, again)
		}
		if tr := readFile(t, fs.CrashCloneWith(opts), "trunc"); tr != "0123456789" {
			t.Fatalf("seed %d: truncated file image %q", seed, tr)
		}
		zopts := opts
		zopts.ZeroTornTail = true
		z := readFile(t, fs.CrashCloneWith(zopts), "log")
		if len(z) != len(got) || z[:7] != "synced|" || strings.Trim(z[7:], "\x00") != "" {
			t.Fatalf("seed %d: zeroed tail %q (torn was %q)", seed, z, got)
		}
	}
	// Every tear point from nothing to everything shows up.
	for n := len("synced|"); n <= len("synced|unsynced-tail"); n++ {
		if !lengths[n] {
			t.Errorf("no seed kept exactly %d bytes", n)
		}
	}
}

func TestCrashCloneEntryModes(t *testing.T) {
	build := func() *vfs.MemFS {
		fs := vfs.NewMem()
		mustCreate(t, fs, "a", "A", true)
		ck(t, fs.SyncDir("."))
		mustCreate(t, fs, "new", "N", false)
		ck(t, fs.Rename("a", "b"))
		ck(t, fs.Remove("new"))
		mustCreate(t, fs, "c", "C", true)
		return fs
	}
	keep := dump(t, build().CrashCloneWith(vfs.CrashOptions{Entries: vfs.KeepUnsyncedEntries}), "")
	if want := map[string]string{"b": "A", "c": "C"}; !maps.Equal(keep, want) {
		t.Fatalf("keep = %q, want %q", keep, want)
	}
	// Random keeps a prefix of the operations in order: exactly these states.
	allowed := map[string]bool{
		fmt.Sprint(map[string]string{"a": "A"}):                    true, // none
		fmt.Sprint(map[string]string{"a": "A", "new": ""}):         true, // create
		fmt.Sprint(map[string]string{"b": "A", "new": ""}):         true, // + rename, atomically
		fmt.Sprint(map[string]string{"b": "A"}):                    true, // + remove
		fmt.Sprint(map[string]string{"b": "A", "c": "C"}):          true, // + create c
		fmt.Sprint(map[string]string{"a": "A", "b": "A"}):          false,
		fmt.Sprint(map[string]string{"new": "", "c": "C"}):         false,
		fmt.Sprint(map[string]string{"a": "A", "c": "C", "x": ""}): false,
	}
	seen := map[string]bool{}
	for seed := range int64(100) {
		opts := vfs.CrashOptions{Seed: seed, Entries: vfs.RandomUnsyncedEntries}
		got := fmt.Sprint(dump(t, build().CrashCloneWith(opts), ""))
		if !allowed[got] {
			t.Fatalf("seed %d: state %s is not a prefix of the operations", seed, got)
		}
		if again := fmt.Sprint(dump(t, build().CrashCloneWith(opts), "")); again != got {
			t.Fatalf("seed %d: not deterministic", seed)
		}
		seen[got] = true
	}
	if len(seen) != 5 {
		t.Fatalf("saw %d of the 5 possible states: %v", len(seen), slices.Sorted(maps.Keys(seen)))
	}
}

// TestDirEntriesOrderedWithFileEntries: directory and file entry changes to
// one name are one sequence in the crash model, so every crash mode shows a
// prefix of it and never a stale file over (or under) a directory.
func TestDirEntriesOrderedWithFileEntries(t *testing.T) {
	build := func() *vfs.MemFS {
		fs := vfs.NewMem()
		mustCreate(t, fs, "x", "file", true)
		ck(t, fs.Remove("x"))
		ck(t, fs.MkdirAll("x"))
		ck(t, fs.Rename("x", "y"))
		return fs
	}
	prefixes := []map[string]string{
		{},             // nothing
		{"x": "file"},  // the file's creation
		{},             // + its removal
		{"x": "<dir>"}, // + mkdir
		{"y": "<dir>"}, // + the rename, atomically
	}
	allowed := map[string]bool{}
	for _, p := range prefixes {
		allowed[fmt.Sprint(p)] = true
	}
	if got := dump(t, build().CrashClone(), ""); len(got) != 0 {
		t.Fatalf("strict image %q, want nothing", got)
	}
	if got, want := dump(t, build().CrashCloneWith(vfs.CrashOptions{Entries: vfs.KeepUnsyncedEntries}), ""), prefixes[4]; !maps.Equal(got, want) {
		t.Fatalf("keep image %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for seed := range int64(100) {
		got := fmt.Sprint(dump(t, build().CrashCloneWith(vfs.CrashOptions{Seed: seed, Entries: vfs.RandomUnsyncedEntries}), ""))
		if !allowed[got] {
			t.Fatalf("seed %d: image %s is not a prefix of the operations", seed, got)
		}
		seen[got] = true
	}
	if len(seen) != 4 {
		t.Fatalf("saw %d of the 4 distinct prefix states: %v", len(seen), slices.Sorted(maps.Keys(seen)))
	}
}

func TestMemUsage(t *testing.T) {
	fs := vfs.NewMem()
	if u := fs.Usage(); u != 0 {
		t.Fatalf("empty usage %d", u)
	}
	ck(t, fs.MkdirAll("d"))
	mustCreate(t, fs, "d/a", "12345", false)
	f := mustCreate(t, fs, "b", "123", false)
	ck(t, f.Truncate(10))
	if u := fs.Usage(); u != 15 {
		t.Fatalf("usage %d, want 15", u)
	}
	ck(t, fs.Remove("d/a"))
	if u := fs.Usage(); u != 10 {
		t.Fatalf("usage after remove %d, want 10", u)
	}
}

func TestMemErrors(t *testing.T) {
	fs := vfs.NewMem()
	mustCreate(t, fs, "file", "x", false)
	ck(t, fs.MkdirAll("dir/sub"))
	cases := []struct {
		name string
		err  error
	}{
		{"create-root", func() error { _, err := fs.Create("/"); return err }()},
		{"create-dir", func() error { _, err := fs.Create("dir"); return err }()},
		{"create-under-file", func() error { _, err := fs.Create("file/x"); return err }()},
		{"open-dir", func() error { _, err := fs.Open("dir"); return err }()},
		{"list-file", func() error { _, err := fs.List("file"); return err }()},
		{"syncdir-file", fs.SyncDir("file")},
		{"rename-file-onto-dir", fs.Rename("file", "dir")},
		{"rename-dir-onto-file", fs.Rename("dir", "file")},
		{"rename-dir-into-itself", fs.Rename("dir", "dir/sub/x")},
		{"rename-onto-nonempty-dir", func() error { ck(t, fs.MkdirAll("d2")); return fs.Rename("d2", "dir") }()},
		{"remove-nonempty-dir", fs.Remove("dir")},
		{"remove-root", fs.Remove("/")},
		{"lock-dir", func() error { _, err := fs.Lock("dir"); return err }()},
		{"truncate-negative", func() error {
			f, err := fs.Create("t")
			ck(t, err)
			return f.Truncate(-1)
		}()},
		{"readat-negative", func() error {
			f, err := fs.Open("file")
			ck(t, err)
			_, err = f.ReadAt(make([]byte, 1), -1)
			return err
		}()},
		{"double-unlock", func() error {
			l, err := fs.Lock("L")
			ck(t, err)
			ck(t, l.Close())
			return l.Close()
		}()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var pe *iofs.PathError
		if !errors.Is(c.err, vfs.ErrLocked) && !errors.As(c.err, &pe) {
			t.Errorf("%s: error %v is not a *fs.PathError naming the path", c.name, c.err)
		}
	}
	// Failed operations changed nothing.
	want := map[string]string{"file": "x", "dir": "<dir>", "dir/sub": "<dir>", "d2": "<dir>", "t": "", "L": ""}
	if got := dump(t, fs, ""); !maps.Equal(got, want) {
		t.Fatalf("state after errors = %q, want %q", got, want)
	}
}

func TestMemPathsAreCleaned(t *testing.T) {
	fs := vfs.NewMem()
	ck(t, fs.MkdirAll("/a/b/"))
	mustCreate(t, fs, "a/./b/../b/f", "data", false)
	if got := readFile(t, fs, "/a/b/f"); got != "data" {
		t.Fatalf("read %q", got)
	}
	if fs.Join("a", "b", "f") != "a/b/f" {
		t.Fatalf("Join = %q", fs.Join("a", "b", "f"))
	}
}

func TestMemLockIsPerFile(t *testing.T) {
	fs := vfs.NewMem()
	l, err := fs.Lock("LOCK")
	ck(t, err)
	ck(t, fs.Rename("LOCK", "LOCK2"))
	if _, err := fs.Lock("LOCK2"); !errors.Is(err, vfs.ErrLocked) {
		t.Fatalf("lock did not follow its file: %v", err)
	}
	ck(t, l.Close())
	l, err = fs.Lock("LOCK2")
	ck(t, err)
	ck(t, l.Close())
}

// TestCrashModelProperty drives random file and directory operations in one
// directory and checks the strict crash image against a trivial model: the
// durable entries are the entries at the last SyncDir, each file's durable
// bytes are its bytes at its last Sync; a directory is an entry like a file.
// It also checks that once everything is synced the crash image equals the
// live state.
func TestCrashModelProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		type mfile struct {
			data, synced []byte
			dir          bool // an (always empty) directory
		}
		fs := vfs.NewMem()
		live := map[string]*mfile{}
		var durable map[string]*mfile
		handles := map[string]vfs.File{}
		names := []string{"a", "b", "c"}
		name := rapid.SampledFrom(names)
		for i := range rapid.IntRange(0, 40).Draw(rt, "ops") {
			n := name.Draw(rt, fmt.Sprint("name", i))
			switch rapid.IntRange(0, 7).Draw(rt, fmt.Sprint("op", i)) {
			case 0: // create
				if m := live[n]; m != nil && m.dir {
					break
				}
				f, err := fs.Create(n)
				ck(t, err)
				if old := handles[n]; old != nil {
					old.Close()
				}
				handles[n] = f
				if m := live[n]; m != nil {
					m.data = nil
				} else {
					live[n] = &mfile{}
				}
			case 1: // write
				if f := handles[n]; f != nil && live[n] != nil {
					b := []byte(rapid.StringN(0, 5, 5).Draw(rt, fmt.Sprint("bytes", i)))
					_, err := f.Write(b)
					ck(t, err)
					// Handles here are created fresh or reopened in append
					// mode, and the files are never truncated, so every write
					// lands at the end.
					live[n].data = append(live[n].data, b...)
				}
			case 2: // sync
				if f := handles[n]; f != nil && live[n] != nil {
					ck(t, f.Sync())
					live[n].synced = bytes.Clone(live[n].data)
				}
			case 3: // syncdir
				ck(t, fs.SyncDir("."))
				durable = maps.Clone(live)
			case 4: // rename n -> another name
				to := name.Draw(rt, fmt.Sprint("to", i))
				// As os.Rename, MemFS refuses a rename onto an existing
				// directory (rename(2) would replace an empty one).
				if live[n] != nil && to != n && (live[to] == nil || !live[to].dir && !live[n].dir) {
					ck(t, fs.Rename(n, to))
					live[to] = live[n]
					delete(live, n)
					if h := handles[to]; h != nil {
						h.Close()
					}
					handles[to] = handles[n]
					delete(handles, n)
				}
			case 5: // remove
				if live[n] != nil {
					ck(t, fs.Remove(n))
					delete(live, n)
					if h := handles[n]; h != nil {
						h.Close()
					}
					delete(handles, n)
				}
			case 6: // crash check mid-way
			case 7: // mkdir
				if live[n] == nil {
					ck(t, fs.MkdirAll(n))
					live[n] = &mfile{dir: true}
				}
			}
			want := map[string]string{}
			for k, m := range durable {
				want[k] = string(m.synced)
				if m.dir {
					want[k] = "<dir>"
				}
			}
			if got := dump(t, fs.CrashClone(), ""); !maps.Equal(got, want) {
				rt.Fatalf("crash image %q, want %q", got, want)
			}
		}
		// Sync everything: the crash image is then the live state.
		for n, m := range live {
			if m.dir {
				continue
			}
			f, err := fs.OpenAppend(n)
			ck(t, err)
			ck(t, f.Sync())
			ck(t, f.Close())
			m.synced = bytes.Clone(m.data)
		}
		ck(t, fs.SyncDir("."))
		if got, want := dump(t, fs.CrashClone(), ""), dump(t, fs, ""); !maps.Equal(got, want) {
			rt.Fatalf("fully synced crash image %q differs from live %q", got, want)
		}
	})
}

// TestMkdirAllAndSync: the directories it creates survive a crash, which
// MkdirAll's alone do not; it syncs only parents of directories it created,
// and a failed sync is returned.
func TestMkdirAllAndSync(t *testing.T) {
	cases := []struct {
		name     string
		existing string // made durable before the call ("" for none)
		dir      string
		syncs    []string // SyncDir calls expected, in order
	}{
		{"nested, from the root", "", "a/b/c", []string{".", "a", "a/b"}},
		{"under an existing dir", "a", "a/b/c", []string{"a", "a/b"}},
		{"already there", "a/b/c", "a/b/c", nil},
		{"absolute path", "", "/db", []string{"/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := vfs.NewMem()
			if c.existing != "" {
				ck(t, vfs.MkdirAllAndSync(mem, c.existing))
			}
			var syncs []string
			fs := errorfs.Wrap(mem, injectFunc(func(op errorfs.Op) error {
				if op.Kind == errorfs.OpSyncDir {
					syncs = append(syncs, op.Path)
				}
				return nil
			}))
			ck(t, vfs.MkdirAllAndSync(fs, c.dir))
			if !slices.Equal(syncs, c.syncs) {
				t.Fatalf("SyncDir calls %q, want %q", syncs, c.syncs)
			}
			if !mem.CrashClone().Exists(c.dir) {
				t.Fatalf("%s lost by a crash", c.dir)
			}
		})
	}
	t.Run("sync fails", func(t *testing.T) {
		fs := errorfs.Wrap(vfs.NewMem(), errorfs.OnKind(errorfs.OpSyncDir, errorfs.ErrInjected))
		if err := vfs.MkdirAllAndSync(fs, "a/b"); !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("MkdirAllAndSync = %v, want the injected error", err)
		}
	})
	t.Run("os", func(t *testing.T) {
		dir := t.TempDir() + "/x/y"
		ck(t, vfs.MkdirAllAndSync(vfs.Default, dir))
		if !vfs.Default.Exists(dir) {
			t.Fatalf("%s not created", dir)
		}
	})
	// A name that holds a file is not a directory: MkdirAll refuses it,
	// and so must MkdirAllAndSync (it returned nil, as the name existed).
	t.Run("a file", func(t *testing.T) {
		for _, im := range impls {
			fs, dir := im.new(t)
			p := fs.Join(dir, "f")
			writeFile(t, fs, p, "x")
			if err := vfs.MkdirAllAndSync(fs, p); err == nil || !strings.Contains(err.Error(), "not a directory") {
				t.Errorf("%s: MkdirAllAndSync of a file = %v, want \"not a directory\"", im.name, err)
			}
		}
	})
}

// injectFunc adapts a function to errorfs.Injector.
type injectFunc func(op errorfs.Op) error

func (f injectFunc) MaybeError(op errorfs.Op) error { return f(op) }
