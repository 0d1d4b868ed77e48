package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
	"golang.org/x/sys/unix"
)

// impl is one filesystem under test, with a fresh empty directory to work in.
type impl struct {
	name string
	new  func(t *testing.T) (vfs.FS, string)
}

// impls lists every FS the conformance suite runs against: the OS, MemFS, and
// errorfs wrappers of both that inject nothing (a pass-through must behave
// exactly as what it wraps).
var impls = []impl{
	{"os", func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }},
	{"mem", func(t *testing.T) (vfs.FS, string) { return newMemRoot(t) }},
	{"errorfs-os", func(t *testing.T) (vfs.FS, string) {
		return errorfs.Wrap(vfs.Default, errorfs.Never), t.TempDir()
	}},
	{"errorfs-mem", func(t *testing.T) (vfs.FS, string) {
		fs, dir := newMemRoot(t)
		return errorfs.Wrap(fs, nil), dir
	}},
	{"scratch", func(t *testing.T) (vfs.FS, string) {
		fs := vfs.Scratch(t.TempDir())
		if err := fs.MkdirAll("/work/dir"); err != nil {
			t.Fatal(err)
		}
		return fs, "/work/dir"
	}},
	// A Mount must behave as the side that serves the directory: the
	// mounted one, and the base one beside a mount elsewhere.
	{"mount-sub", func(t *testing.T) (vfs.FS, string) {
		mem, dir := newMemRoot(t)
		sub := vfs.Scratch(t.TempDir())
		if err := sub.MkdirAll("/mnt"); err != nil {
			t.Fatal(err)
		}
		return vfs.Mount(mem, dir, sub, "/mnt"), dir
	}},
	{"mount-base", func(t *testing.T) (vfs.FS, string) {
		mem, dir := newMemRoot(t)
		return vfs.Mount(mem, "/work/other", vfs.Scratch(t.TempDir()), "/"), dir
	}},
}

func newMemRoot(t *testing.T) (*vfs.MemFS, string) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/work/dir"); err != nil {
		t.Fatal(err)
	}
	return fs, "/work/dir"
}

// ck fails the test on a non-nil error.
func ck(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, fs vfs.FS, name, data string) {
	t.Helper()
	f, err := fs.Create(name)
	ck(t, err)
	_, err = f.Write([]byte(data))
	ck(t, err)
	ck(t, f.Close())
}

func readFile(t *testing.T, fs vfs.FS, name string) string {
	t.Helper()
	f, err := fs.Open(name)
	ck(t, err)
	defer f.Close()
	b, err := io.ReadAll(f)
	ck(t, err)
	return string(b)
}

// TestConformance runs the same behaviours against every implementation.
func TestConformance(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, fs vfs.FS, dir string)
	}{
		{"create-write-read", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			f, err := fs.Create(p)
			ck(t, err)
			n, err := f.Write([]byte("hello "))
			ck(t, err)
			if n != 6 {
				t.Fatalf("wrote %d, want 6", n)
			}
			_, err = f.Write([]byte("world"))
			ck(t, err)
			sz, err := f.Size()
			ck(t, err)
			if sz != 11 {
				t.Fatalf("size %d, want 11", sz)
			}
			buf := make([]byte, 5)
			n, err = f.ReadAt(buf, 6)
			if err != nil || n != 5 || string(buf) != "world" {
				t.Fatalf("ReadAt = %d %v %q", n, err, buf)
			}
			n, err = f.ReadAt(buf, 8)
			if n != 3 || !errors.Is(err, io.EOF) || string(buf[:3]) != "rld" {
				t.Fatalf("short ReadAt = %d %v %q, want 3 EOF", n, err, buf[:n])
			}
			n, err = f.ReadAt(buf, 11)
			if n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("ReadAt at end = %d %v, want 0 EOF", n, err)
			}
			ck(t, f.Sync())
			ck(t, f.Close())
			if got := readFile(t, fs, p); got != "hello world" {
				t.Fatalf("read %q", got)
			}
		}},
		{"create-truncates-existing", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "long contents")
			writeFile(t, fs, p, "new")
			if got := readFile(t, fs, p); got != "new" {
				t.Fatalf("read %q", got)
			}
		}},
		{"create-in-missing-dir", func(t *testing.T, fs vfs.FS, dir string) {
			_, err := fs.Create(fs.Join(dir, "nodir", "a"))
			if !vfs.IsNotExist(err) {
				t.Fatalf("err = %v, want not-exist", err)
			}
		}},
		{"open-missing", func(t *testing.T, fs vfs.FS, dir string) {
			_, err := fs.Open(fs.Join(dir, "missing"))
			if !vfs.IsNotExist(err) {
				t.Fatalf("Open err = %v, want not-exist", err)
			}
			_, err = fs.OpenAppend(fs.Join(dir, "missing"))
			if !vfs.IsNotExist(err) {
				t.Fatalf("OpenAppend err = %v, want not-exist", err)
			}
		}},
		{"open-is-read-only", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "x")
			f, err := fs.Open(p)
			ck(t, err)
			defer f.Close()
			if _, err := f.Write([]byte("y")); err == nil {
				t.Fatal("write to read-only file succeeded")
			}
		}},
		{"sequential-read", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "abcdef")
			f, err := fs.Open(p)
			ck(t, err)
			defer f.Close()
			buf := make([]byte, 4)
			n, err := f.Read(buf)
			if n != 4 || err != nil || string(buf) != "abcd" {
				t.Fatalf("Read = %d %v %q", n, err, buf)
			}
			n, _ = f.Read(buf)
			if n != 2 || string(buf[:2]) != "ef" {
				t.Fatalf("Read = %d %q", n, buf[:n])
			}
			if n, err = f.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("Read at end = %d %v", n, err)
			}
		}},
		{"append", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "one,")
			f, err := fs.OpenAppend(p)
			ck(t, err)
			_, err = f.Write([]byte("two,"))
			ck(t, err)
			// The handle is readable, and reads do not move where writes go.
			buf := make([]byte, 3)
			_, err = f.ReadAt(buf, 0)
			ck(t, err)
			if string(buf) != "one" {
				t.Fatalf("read %q", buf)
			}
			_, err = f.Write([]byte("three"))
			ck(t, err)
			ck(t, f.Close())
			if got := readFile(t, fs, p); got != "one,two,three" {
				t.Fatalf("read %q", got)
			}
		}},
		// An append handle writes at the end as it is at each write, not
		// as it was when the handle opened: after another handle grew the
		// file, and after a truncation. Scratch files (and so a Mount of
		// one) wrote at the end as of OpenAppend: "one,APP," (the other
		// handle's "two," overwritten) and "on\x00...X" (a gap).
		{"append-follows-the-end", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			w, err := fs.Create(p)
			ck(t, err)
			_, err = w.Write([]byte("one,"))
			ck(t, err)
			a, err := fs.OpenAppend(p)
			ck(t, err)
			_, err = w.Write([]byte("two,"))
			ck(t, err)
			_, err = a.Write([]byte("APP"))
			ck(t, err)
			ck(t, w.Close())
			if got := readFile(t, fs, p); got != "one,two,APP" {
				t.Fatalf("after another handle's write: read %q, want %q", got, "one,two,APP")
			}
			ck(t, a.Truncate(2))
			_, err = a.Write([]byte("X"))
			ck(t, err)
			ck(t, a.Close())
			if got := readFile(t, fs, p); got != "onX" {
				t.Fatalf("after a truncation: read %q, want %q", got, "onX")
			}
		}},
		// An empty write past the end (the offset left there by a
		// truncation) changes nothing, as write(2). On a scratch file it
		// set the length to the offset: Size said 10 while reads stopped
		// at 2.
		{"empty-write-past-end", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			f, err := fs.Create(p)
			ck(t, err)
			_, err = f.Write([]byte("0123456789"))
			ck(t, err)
			ck(t, f.Truncate(2))
			if n, err := f.Write(nil); n != 0 || err != nil {
				t.Fatalf("empty write = %d, %v", n, err)
			}
			if sz, err := f.Size(); sz != 2 || err != nil {
				t.Fatalf("size %d (%v) after an empty write past the end, want 2", sz, err)
			}
			ck(t, f.Close())
			if got := readFile(t, fs, p); got != "01" {
				t.Fatalf("read %q, want %q", got, "01")
			}
		}},
		// A negative read offset or size is refused with an error naming
		// the file. A scratch file named its unnamed OS file instead
		// ("read /tmp/(unnamed): negative offset"). (A Mount names the
		// path on the mounted side, "/mnt/a", hence only "/a:" here.)
		{"negative-offset-names-the-file", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			f, err := fs.Create(p)
			ck(t, err)
			defer f.Close()
			_, rerr := f.ReadAt(make([]byte, 1), -1)
			terr := f.Truncate(-1)
			for what, err := range map[string]error{"ReadAt(-1)": rerr, "Truncate(-1)": terr} {
				if err == nil || !strings.Contains(err.Error(), "/a:") {
					t.Errorf("%s = %v, want an error naming %s", what, err, p)
				}
			}
		}},
		// Closing a lock a second time releases nothing: the lock taken
		// since by another holder stays held. A scratch lock's second
		// Close dropped it, so a third Lock succeeded beside the second.
		{"lock-closed-twice", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "LOCK")
			l1, err := fs.Lock(p)
			ck(t, err)
			ck(t, l1.Close())
			l2, err := fs.Lock(p)
			ck(t, err)
			defer l2.Close()
			if err := l1.Close(); err == nil {
				t.Error("second Close of a lock succeeded")
			}
			if l3, err := fs.Lock(p); !errors.Is(err, vfs.ErrLocked) {
				if l3 != nil {
					_ = l3.Close() // failing anyway
				}
				t.Fatalf("Lock while another holder has it, after a stale Close: %v, want ErrLocked", err)
			}
		}},
		// A lock is on the file, not the name (flock): a new file made
		// after the locked one's removal can be locked, and a locked
		// file renamed stays locked. Scratch locked names: the new L
		// was refused, the renamed M was not.
		{"lock-follows-the-file", func(t *testing.T, fs vfs.FS, dir string) {
			p, q := fs.Join(dir, "L"), fs.Join(dir, "M")
			l1, err := fs.Lock(p)
			ck(t, err)
			defer l1.Close()
			ck(t, fs.Remove(p))
			l2, err := fs.Lock(p)
			if err != nil {
				t.Fatalf("Lock of a new file where a locked one was removed: %v", err)
			}
			defer l2.Close()
			ck(t, fs.Rename(p, q))
			if l3, err := fs.Lock(q); !errors.Is(err, vfs.ErrLocked) {
				if l3 != nil {
					_ = l3.Close() // failing anyway
				}
				t.Fatalf("Lock of a locked file under its new name: %v, want ErrLocked", err)
			}
		}},
		// Opening a directory is not "no such file": the OS opens it, the
		// others refuse it as a directory. A scratch FS said it did not
		// exist, beside an Exists that said it did.
		{"open-a-directory", func(t *testing.T, fs vfs.FS, dir string) {
			d := fs.Join(dir, "sub")
			ck(t, fs.MkdirAll(d))
			for name, open := range map[string]func(string) (vfs.File, error){"Open": fs.Open, "OpenAppend": fs.OpenAppend} {
				f, err := open(d)
				if f != nil {
					_ = f.Close() // only the error matters
				}
				if vfs.IsNotExist(err) {
					t.Errorf("%s of an existing directory: %v (not-exist)", name, err)
				}
			}
		}},
		{"truncate", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			f, err := fs.Create(p)
			ck(t, err)
			_, err = f.Write([]byte("0123456789"))
			ck(t, err)
			ck(t, f.Truncate(4))
			if sz, _ := f.Size(); sz != 4 {
				t.Fatalf("size %d after shrink", sz)
			}
			// The write offset stays at 10: the gap reads as zeros.
			_, err = f.Write([]byte("X"))
			ck(t, err)
			ck(t, f.Truncate(13))
			ck(t, f.Close())
			want := "0123\x00\x00\x00\x00\x00\x00X\x00\x00"
			if got := readFile(t, fs, p); got != want {
				t.Fatalf("read %q, want %q", got, want)
			}
		}},
		{"truncate-then-extend-zeroes", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			f, err := fs.Create(p)
			ck(t, err)
			_, err = f.Write([]byte("abcdef"))
			ck(t, err)
			ck(t, f.Sync())
			ck(t, f.Truncate(2))
			ck(t, f.Truncate(6))
			ck(t, f.Close())
			if got := readFile(t, fs, p); got != "ab\x00\x00\x00\x00" {
				t.Fatalf("read %q", got)
			}
		}},
		{"rename", func(t *testing.T, fs vfs.FS, dir string) {
			a, b := fs.Join(dir, "a"), fs.Join(dir, "b")
			writeFile(t, fs, a, "A")
			writeFile(t, fs, b, "B")
			ck(t, fs.Rename(a, b))
			if fs.Exists(a) {
				t.Fatal("old name still exists")
			}
			if got := readFile(t, fs, b); got != "A" {
				t.Fatalf("read %q", got)
			}
			ck(t, fs.Rename(b, b))
			if got := readFile(t, fs, b); got != "A" {
				t.Fatalf("self-rename changed contents: %q", got)
			}
			if err := fs.Rename(a, b); !vfs.IsNotExist(err) {
				t.Fatalf("rename of missing file: %v", err)
			}
		}},
		{"rename-across-dirs", func(t *testing.T, fs vfs.FS, dir string) {
			sub := fs.Join(dir, "sub")
			ck(t, fs.MkdirAll(sub))
			writeFile(t, fs, fs.Join(dir, "a"), "A")
			ck(t, fs.Rename(fs.Join(dir, "a"), fs.Join(sub, "a")))
			if got := readFile(t, fs, fs.Join(sub, "a")); got != "A" {
				t.Fatalf("read %q", got)
			}
		}},
		{"rename-dir", func(t *testing.T, fs vfs.FS, dir string) {
			ck(t, fs.MkdirAll(fs.Join(dir, "d1")))
			writeFile(t, fs, fs.Join(dir, "d1", "f"), "F")
			ck(t, fs.Rename(fs.Join(dir, "d1"), fs.Join(dir, "d2")))
			if got := readFile(t, fs, fs.Join(dir, "d2", "f")); got != "F" {
				t.Fatalf("read %q", got)
			}
			if fs.Exists(fs.Join(dir, "d1")) {
				t.Fatal("old directory still exists")
			}
		}},
		{"remove", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "A")
			ck(t, fs.Remove(p))
			if fs.Exists(p) {
				t.Fatal("removed file exists")
			}
			if err := fs.Remove(p); !vfs.IsNotExist(err) {
				t.Fatalf("second remove: %v", err)
			}
			sub := fs.Join(dir, "sub")
			ck(t, fs.MkdirAll(sub))
			writeFile(t, fs, fs.Join(sub, "x"), "")
			if err := fs.Remove(sub); err == nil {
				t.Fatal("removed a non-empty directory")
			}
			ck(t, fs.Remove(fs.Join(sub, "x")))
			ck(t, fs.Remove(sub))
		}},
		{"open-file-survives-remove", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "a")
			writeFile(t, fs, p, "still here")
			f, err := fs.Open(p)
			ck(t, err)
			ck(t, fs.Remove(p))
			b, err := io.ReadAll(f)
			ck(t, err)
			ck(t, f.Close())
			if string(b) != "still here" {
				t.Fatalf("read %q", b)
			}
		}},
		{"list-sorted", func(t *testing.T, fs vfs.FS, dir string) {
			for _, n := range []string{"c", "a", "b10", "b2"} {
				writeFile(t, fs, fs.Join(dir, n), n)
			}
			ck(t, fs.MkdirAll(fs.Join(dir, "d")))
			got, err := fs.List(dir)
			ck(t, err)
			if want := []string{"a", "b10", "b2", "c", "d"}; !slices.Equal(got, want) {
				t.Fatalf("List = %q, want %q", got, want)
			}
			if _, err := fs.List(fs.Join(dir, "missing")); !vfs.IsNotExist(err) {
				t.Fatalf("List(missing): %v", err)
			}
			empty, err := fs.List(fs.Join(dir, "d"))
			ck(t, err)
			if len(empty) != 0 {
				t.Fatalf("List(empty dir) = %q", empty)
			}
		}},
		{"mkdirall-exists-syncdir", func(t *testing.T, fs vfs.FS, dir string) {
			deep := fs.Join(dir, "x", "y", "z")
			ck(t, fs.MkdirAll(deep))
			ck(t, fs.MkdirAll(deep)) // idempotent
			if !fs.Exists(deep) || !fs.Exists(fs.Join(dir, "x")) {
				t.Fatal("created directories do not exist")
			}
			if fs.Exists(fs.Join(dir, "x", "nope")) {
				t.Fatal("missing name exists")
			}
			ck(t, fs.SyncDir(deep))
			ck(t, fs.SyncDir(dir))
			if err := fs.SyncDir(fs.Join(dir, "missing")); !vfs.IsNotExist(err) {
				t.Fatalf("SyncDir(missing): %v", err)
			}
			writeFile(t, fs, fs.Join(dir, "file"), "")
			if err := fs.MkdirAll(fs.Join(dir, "file", "sub")); err == nil {
				t.Fatal("MkdirAll through a file succeeded")
			}
		}},
		{"lock", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "LOCK")
			l, err := fs.Lock(p)
			ck(t, err)
			if !fs.Exists(p) {
				t.Fatal("Lock did not create its file")
			}
			if _, err := fs.Lock(p); !errors.Is(err, vfs.ErrLocked) {
				t.Fatalf("second Lock: %v, want ErrLocked", err)
			}
			ck(t, l.Close())
			l2, err := fs.Lock(p)
			ck(t, err)
			ck(t, l2.Close())
		}},
		{"closed-file", func(t *testing.T, fs vfs.FS, dir string) {
			f, err := fs.Create(fs.Join(dir, "a"))
			ck(t, err)
			ck(t, f.Close())
			if _, err := f.Write([]byte("x")); err == nil {
				t.Fatal("write after close succeeded")
			}
			if err := f.Close(); err == nil {
				t.Fatal("second close succeeded")
			}
		}},
		{"closed-file-says-closed", func(t *testing.T, fs vfs.FS, dir string) {
			// Every call on a closed file fails with os.ErrClosed, as an
			// os.File's do: Sync and the writeback calls of the OS files
			// said "bad file descriptor" (they ran on the closed
			// descriptor, -1) where MemFS said the file was closed.
			f, err := fs.Create(fs.Join(dir, "a"))
			ck(t, err)
			_, err = f.Write([]byte("data"))
			ck(t, err)
			ck(t, f.Close())
			calls := []struct {
				name string
				call func() error
			}{
				{"Write", func() error { _, err := f.Write([]byte("x")); return err }},
				{"Read", func() error { _, err := f.Read(make([]byte, 1)); return err }},
				{"ReadAt", func() error { _, err := f.ReadAt(make([]byte, 1), 0); return err }},
				{"Sync", f.Sync},
				{"Truncate", func() error { return f.Truncate(1) }},
				{"Size", func() error { _, err := f.Size(); return err }},
				{"Close", f.Close},
			}
			if rs, ok := f.(vfs.RangeSyncer); ok {
				calls = append(calls, struct {
					name string
					call func() error
				}{"StartWriteback", func() error { return rs.StartWriteback(0, 4) }})
			}
			if rw, ok := f.(vfs.RangeWaiter); ok {
				calls = append(calls, struct {
					name string
					call func() error
				}{"WaitWriteback", func() error { return rw.WaitWriteback(0, 4) }})
			}
			if dw, ok := f.(vfs.DirectWriter); ok {
				calls = append(calls, struct {
					name string
					call func() error
				}{"SetDirect", func() error { return dw.SetDirect(false) }})
			}
			for _, c := range calls {
				if err := c.call(); !errors.Is(err, os.ErrClosed) {
					t.Errorf("%s after Close = %v, want an error wrapping os.ErrClosed", c.name, err)
				}
			}
		}},
		{"large-file", func(t *testing.T, fs vfs.FS, dir string) {
			p := fs.Join(dir, "big")
			f, err := fs.Create(p)
			ck(t, err)
			var want bytes.Buffer
			chunk := make([]byte, 4093)
			for i := range 100 {
				for j := range chunk {
					chunk[j] = byte(i + j)
				}
				want.Write(chunk)
				_, err := f.Write(chunk)
				ck(t, err)
				if i%10 == 0 {
					ck(t, f.Sync())
				}
			}
			ck(t, f.Close())
			if got := readFile(t, fs, p); got != want.String() {
				t.Fatal("large file contents differ")
			}
		}},
	}
	for _, im := range impls {
		for _, c := range cases {
			t.Run(im.name+"/"+c.name, func(t *testing.T) {
				fs, dir := im.new(t)
				c.run(t, fs, dir)
			})
		}
	}
}

// TestConcurrentWriters checks that concurrent use is safe (run with -race)
// and that each file gets exactly its own writer's bytes.
func TestConcurrentWriters(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			fs, dir := im.new(t)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					p := fs.Join(dir, string(rune('a'+w)))
					f, err := fs.Create(p)
					if err != nil {
						t.Error(err)
						return
					}
					for range 100 {
						if _, err := f.Write([]byte{byte(w)}); err != nil {
							t.Error(err)
						}
					}
					if err := f.Sync(); err != nil {
						t.Error(err)
					}
					if err := f.Close(); err != nil {
						t.Error(err)
					}
					if _, err := fs.List(dir); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			for w := range 4 {
				got := readFile(t, fs, fs.Join(dir, string(rune('a'+w))))
				if got != string(bytes.Repeat([]byte{byte(w)}, 100)) {
					t.Fatalf("writer %d: wrong contents %q", w, got)
				}
			}
		})
	}
}

// TestConcurrentAppenders: handles from OpenAppend on one file, appending
// from several goroutines, never overwrite one another: every record
// lands whole, once. A scratch file's append handles wrote at their own
// offsets, so records overwrote each other.
func TestConcurrentAppenders(t *testing.T) {
	const writers, records = 4, 50
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			fs, dir := im.new(t)
			p := fs.Join(dir, "log")
			writeFile(t, fs, p, "")
			var wg sync.WaitGroup
			for w := range writers {
				f, err := fs.OpenAppend(p)
				ck(t, err)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer f.Close()
					for i := range records {
						if _, err := f.Write([]byte{'<', byte('a' + w), byte(i), '>'}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			got := []byte(readFile(t, fs, p))
			if len(got) != writers*records*4 {
				t.Fatalf("%d bytes, want %d", len(got), writers*records*4)
			}
			seen := map[[2]byte]bool{}
			for k := 0; k < len(got); k += 4 {
				r := got[k : k+4]
				if r[0] != '<' || r[3] != '>' || seen[[2]byte{r[1], r[2]}] {
					t.Fatalf("record %d torn or repeated: %q", k/4, r)
				}
				seen[[2]byte{r[1], r[2]}] = true
			}
		})
	}
}

// errKind names the sentinel err wraps, so that two filesystems' failures
// compare exactly: the errno (ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EEXIST,
// EINVAL, EBUSY, EBADF...), or a held lock, end of file, a closed file;
// "ok" for nil, and "other" for an error wrapping none of them (whose
// text, naming each side's own path, cannot be compared).
func errKind(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &errno):
		return unix.ErrnoName(errno)
	case errors.Is(err, vfs.ErrLocked):
		return "locked"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, os.ErrClosed):
		return "closed"
	case errors.Is(err, os.ErrNotExist):
		return "not-exist"
	}
	return "other"
}

// TestConformancePaths runs path edge cases ("", ".", "..", "x/..",
// trailing slashes, "//", a non-empty directory, renames onto directories
// and into themselves) on every implementation, each in a directory
// holding a file a ("A"), an empty directory d and a directory e holding a
// file f ("F"), and requires the errno Linux gives (the "os" rows check
// the table itself) and the tree it leaves. Each case's comment says what
// went wrong before. Linux only: the errnos are Linux's.
func TestConformancePaths(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the table holds Linux's errnos")
	}
	type change struct{ name, contents string } // "" contents: removed
	cases := []struct {
		name string
		run  func(fs vfs.FS, r string) error
		want string   // errKind of the outcome
		tree []change // what the call changes in the tree
	}{
		// MemFS said EINVAL (rmdir's errno for "."), the OS ENOTEMPTY;
		// scratch (and a Mount of one) cleaned the name to the working
		// directory and tried to remove it.
		{"path-remove-dotdot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/d/..") }, "ENOTEMPTY", nil},
		{"path-remove-missing-dotdot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/x/..") }, "ENOENT", nil},
		{"path-remove-file-dotdot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/e/f/..") }, "ENOTDIR", nil},
		// Scratch removed d, and then the file a.
		{"path-remove-dot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/d/.") }, "EINVAL", nil},
		{"path-remove-file-dot", func(fs vfs.FS, r string) error { return fs.Remove(r + "/a/.") }, "ENOTDIR", nil},
		{"path-remove-file-slash", func(fs vfs.FS, r string) error { return fs.Remove(r + "/a/") }, "ENOTDIR", nil},
		// Scratch removed its relative root ".".
		{"path-remove-empty", func(fs vfs.FS, r string) error { return fs.Remove("") }, "ENOENT", nil},
		{"path-remove-nonempty-dir", func(fs vfs.FS, r string) error { return fs.Remove(r + "/e/") }, "ENOTEMPTY", nil},
		{"path-remove-dir-slashes", func(fs vfs.FS, r string) error { return fs.Remove(r + "/d//") }, "ok", []change{{"d", ""}}},
		{"path-remove-double-slash", func(fs vfs.FS, r string) error { return fs.Remove(r + "//e//f") }, "ok", []change{{"e/f", ""}}},
		// Scratch: "is a directory" wrapping no errno, for the working
		// directory ("x/.." cleaned away).
		{"path-create-empty", func(fs vfs.FS, r string) error { _, err := fs.Create(""); return err }, "ENOENT", nil},
		{"path-create-dot", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/."); return err }, "EISDIR", nil},
		{"path-create-dotdot", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/.."); return err }, "EISDIR", nil},
		{"path-create-missing-dotdot", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/x/.."); return err }, "ENOENT", nil},
		// Scratch made a file n.
		{"path-create-slash", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/n/"); return err }, "EISDIR", nil},
		{"path-create-under-file", func(fs vfs.FS, r string) error { _, err := fs.Create(r + "/a/b"); return err }, "ENOTDIR", nil},
		{"path-create-double-slash", func(fs vfs.FS, r string) error {
			f, err := fs.Create(r + "/d//b")
			if err == nil {
				err = f.Close()
			}
			return err
		}, "ok", []change{{"d/b", "<new>"}}},
		// Scratch opened a and a: the slash and x/.. were cleaned away.
		{"path-open-file-slash", func(fs vfs.FS, r string) error { _, err := fs.Open(r + "/a/"); return err }, "ENOTDIR", nil},
		{"path-open-through-missing", func(fs vfs.FS, r string) error { _, err := fs.Open(r + "/x/../a"); return err }, "ENOENT", nil},
		{"path-open-through-dotdot", func(fs vfs.FS, r string) error {
			f, err := fs.Open(r + "/d/../a")
			if err == nil {
				err = f.Close()
			}
			return err
		}, "ok", nil},
		// Scratch: "destination exists" wrapping no errno for d onto e,
		// and e renamed over the empty d (os.Rename refuses both).
		{"path-rename-dir-onto-dir", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d", r+"/e") }, "EEXIST", nil},
		{"path-rename-dir-onto-empty-dir", func(fs vfs.FS, r string) error { return fs.Rename(r+"/e", r+"/d") }, "EEXIST", nil},
		{"path-rename-file-onto-dir", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a", r+"/d") }, "EEXIST", nil},
		{"path-rename-dir-onto-file", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d", r+"/a") }, "ENOTDIR", nil},
		// Scratch moved e into itself: e/f became e/g/f under an e that
		// no longer existed, out of reach of every List.
		{"path-rename-dir-into-itself", func(fs vfs.FS, r string) error { return fs.Rename(r+"/e", r+"/e/g") }, "EINVAL", nil},
		{"path-rename-dir-into-itself-dotdot", func(fs vfs.FS, r string) error { return fs.Rename(r+"/e", r+"/d/../e/g") }, "EINVAL", nil},
		// Scratch succeeded (os.Rename refuses a directory onto its own name).
		{"path-rename-dir-to-itself", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d", r+"/d") }, "EEXIST", nil},
		{"path-rename-dir-to-itself-slash", func(fs vfs.FS, r string) error { return fs.Rename(r+"/e", r+"/e/") }, "ok", nil},
		{"path-rename-file-to-itself", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a", r+"/a") }, "ok", nil},
		// Scratch renamed a to x, and d (a dot name) to z.
		{"path-rename-file-to-slash", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a", r+"/x/") }, "ENOTDIR", nil},
		{"path-rename-file-from-slash", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a/", r+"/x") }, "ENOTDIR", nil},
		{"path-rename-dot", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d/.", r+"/z") }, "EBUSY", nil},
		{"path-rename-missing-dotdot", func(fs vfs.FS, r string) error { return fs.Rename(r+"/x/..", r+"/z") }, "ENOENT", nil},
		{"path-rename-dir-slashes", func(fs vfs.FS, r string) error { return fs.Rename(r+"/d/", r+"/z/") }, "ok", []change{{"d", ""}, {"z", "<dir>"}}},
		{"path-rename-to-missing-dir", func(fs vfs.FS, r string) error { return fs.Rename(r+"/a", r+"/x/b") }, "ENOENT", nil},
		// Scratch: "not a directory" wrapping no errno.
		{"path-mkdirall-file", func(fs vfs.FS, r string) error { return fs.MkdirAll(r + "/a/b") }, "ENOTDIR", nil},
		{"path-mkdirall-missing-dotdot", func(fs vfs.FS, r string) error { return fs.MkdirAll(r + "/x/..") }, "ok", []change{{"x", "<dir>"}}},
		// Scratch succeeded: "" cleaned to its relative root ".".
		{"path-mkdirall-empty", func(fs vfs.FS, r string) error { return fs.MkdirAll("") }, "ENOENT", nil},
		{"path-mkdirall-slashes", func(fs vfs.FS, r string) error { return fs.MkdirAll(r + "/d//g/") }, "ok", []change{{"d/g", "<dir>"}}},
		// Scratch: not-exist for a file, and listed the working directory.
		{"path-list-file", func(fs vfs.FS, r string) error { _, err := fs.List(r + "/a"); return err }, "ENOTDIR", nil},
		{"path-list-empty", func(fs vfs.FS, r string) error { _, err := fs.List(""); return err }, "ENOENT", nil},
		{"path-list-missing-dotdot", func(fs vfs.FS, r string) error { _, err := fs.List(r + "/x/.."); return err }, "ENOENT", nil},
		{"path-syncdir-missing-dotdot", func(fs vfs.FS, r string) error { return fs.SyncDir(r + "/x/..") }, "ENOENT", nil},
		{"path-syncdir-file-slash", func(fs vfs.FS, r string) error { return fs.SyncDir(r + "/a/") }, "ENOTDIR", nil},
		// Scratch said both existed.
		{"path-exists-file-slash", func(fs vfs.FS, r string) error { return existsErr(fs, r+"/a/") }, "not-exist", nil},
		{"path-exists-missing-dotdot", func(fs vfs.FS, r string) error { return existsErr(fs, r+"/x/..") }, "not-exist", nil},
		// Scratch locked the directory d, and made a lock file L.
		{"path-lock-dir", func(fs vfs.FS, r string) error { return lockErr(fs, r+"/d") }, "EISDIR", nil},
		{"path-lock-file-slash", func(fs vfs.FS, r string) error { return lockErr(fs, r+"/a/") }, "EISDIR", nil},
		{"path-lock-missing-dotdot", func(fs vfs.FS, r string) error { return lockErr(fs, r+"/x/../L") }, "ENOENT", nil},
		// Scratch: "file opened read-only" wrapping no errno; MemFS
		// refused the truncation with EBADF where Linux says EINVAL.
		{"write-read-only", func(fs vfs.FS, r string) error {
			f, err := fs.Open(r + "/a")
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte("x"))
			return err
		}, "EBADF", nil},
		{"truncate-read-only", func(fs vfs.FS, r string) error {
			f, err := fs.Open(r + "/a")
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(0)
		}, "EINVAL", nil},
	}
	for _, im := range impls {
		for _, c := range cases {
			t.Run(im.name+"/"+c.name, func(t *testing.T) {
				fs, dir := im.new(t)
				writeFile(t, fs, dir+"/a", "A")
				ck(t, fs.MkdirAll(dir+"/d"))
				ck(t, fs.MkdirAll(dir+"/e"))
				writeFile(t, fs, dir+"/e/f", "F")
				want := map[string]string{"a": "A", "d": "<dir>", "e": "<dir>", "e/f": "F"}
				for _, ch := range c.tree {
					switch ch.contents {
					case "":
						delete(want, ch.name)
					case "<new>":
						want[ch.name] = ""
					default:
						want[ch.name] = ch.contents
					}
				}
				err := c.run(fs, dir)
				if got := errKind(err); got != c.want {
					t.Errorf("%v (%s), want %s", err, got, c.want)
				}
				tree, terr := fuzzTree(fs, dir)
				ck(t, terr)
				if !mapsEqual(tree, want) {
					t.Errorf("tree %s, want %s", treeString(tree), treeString(want))
				}
			})
		}
	}
}

// lockErr takes and releases a lock on name, returning Lock's error.
func lockErr(fs vfs.FS, name string) error {
	l, err := fs.Lock(name)
	if err != nil {
		return err
	}
	return l.Close()
}
