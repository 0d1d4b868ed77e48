package vfs_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// fuzzNames are the names the differential fuzz target works on, relative
// to its root directory and appended to it with a plain "/" (not Join, which
// would clean them): ordinary names, names under a directory, and odd ones
// (trailing slashes, ".", "..", empty components, a NUL byte, a long name).
// None climbs above the root.
var fuzzNames = []string{
	"a", "b", "d", "d/a", "d/e", "d/e/f", "a/b",
	"a/", "d/", "d/a/", "", ".", "d/.", "d/..", "x/..", "a/..", "d//a",
	"d/../b", "a\x00b", strings.Repeat("n", 300), "d/e/..",
}

// fuzzSide is one filesystem the fuzz target drives: its root, its open
// handles and its locks, by slot.
type fuzzSide struct {
	fs    vfs.FS
	root  string
	files [3]vfs.File
	locks [2]io.Closer
}

func (s *fuzzSide) close() {
	for _, f := range s.files {
		if f != nil {
			_ = f.Close() // may be closed already; only the handle matters
		}
	}
	for _, l := range s.locks {
		if l != nil {
			_ = l.Close()
		}
	}
}

// fuzzReader hands out the fuzz input a byte at a time, zeros once spent.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// offset decodes an offset or size in (-1 MiB, 1 MiB): mostly small, at
// times negative or large.
func (r *fuzzReader) offset() int64 {
	c, lo := r.byte(), int64(r.byte())
	switch c % 8 {
	case 0:
		return -lo - 1
	case 1:
		return lo<<12 | int64(r.byte())
	default:
		return lo % 24
	}
}

// errClass names what callers can tell about err: success, not-exist,
// a held lock, end of file, or another failure.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case vfs.IsNotExist(err):
		return "not-exist"
	case errors.Is(err, vfs.ErrLocked):
		return "locked"
	case errors.Is(err, io.EOF):
		return "eof"
	}
	return "error"
}

// fuzzStep runs operation op (decoded from r) on every side and returns
// what each observed.
func fuzzStep(r *fuzzReader, sides []*fuzzSide) (desc string, results []string) {
	op := r.byte() % 16
	n1, n2 := fuzzNames[int(r.byte())%len(fuzzNames)], fuzzNames[int(r.byte())%len(fuzzNames)]
	h := int(r.byte()) % 3
	data := make([]byte, r.byte()%16)
	for i := range data {
		data[i] = byte('A' + i)
	}
	off, n := r.offset(), int(r.byte()%20)
	desc = fmt.Sprintf("op %d %q %q slot %d data %d off %d n %d", op, n1, n2, h, len(data), off, n)
	for _, s := range sides {
		p1, p2 := s.root+"/"+n1, s.root+"/"+n2
		f := s.files[h]
		var res string
		switch op {
		case 1, 14:
			// Known differences: the OS opens a directory read-only and
			// syncs a file as a directory; MemFS refuses both. So a
			// directory is not opened, and only a directory is synced.
			if _, err := s.fs.List(p1); (op == 1) == (err == nil) {
				res = "dir " + errKind(err)
				break
			}
			if op == 14 {
				res = errKind(s.fs.SyncDir(p1))
				break
			}
			fallthrough
		case 0, 2:
			var nf vfs.File
			var err error
			switch op {
			case 0:
				nf, err = s.fs.Create(p1)
			case 1:
				nf, err = s.fs.Open(p1)
			default:
				nf, err = s.fs.OpenAppend(p1)
			}
			if err == nil {
				if f != nil {
					_ = f.Close() // replaced; may be closed already
				}
				s.files[h] = nf
			}
			res = errKind(err)
		case 3:
			if f == nil {
				res = "no handle"
				break
			}
			k, err := f.Write(data)
			res = fmt.Sprintf("%d %s", k, errKind(err))
		case 4:
			if f == nil {
				res = "no handle"
				break
			}
			res = errKind(f.Truncate(off))
		case 5:
			if f == nil {
				res = "no handle"
				break
			}
			buf := make([]byte, n)
			k, err := f.ReadAt(buf, off)
			res = fmt.Sprintf("%d %q %s", k, buf[:max(k, 0)], errKind(err))
		case 6:
			if f == nil {
				res = "no handle"
				break
			}
			buf := make([]byte, n)
			k, err := f.Read(buf)
			res = fmt.Sprintf("%d %q %s", k, buf[:max(k, 0)], errKind(err))
		case 7:
			res = errKind(s.fs.Rename(p1, p2))
		case 8:
			res = errKind(s.fs.Remove(p1))
		case 9:
			res = errKind(s.fs.MkdirAll(p1))
		case 10:
			names, err := s.fs.List(p1)
			res = fmt.Sprint(names, errKind(err))
		case 11:
			if f == nil {
				res = "no handle"
				break
			}
			res = errKind(f.Close())
		case 12:
			if f == nil {
				res = "no handle"
				break
			}
			size, err := f.Size()
			res = fmt.Sprint(errKind(f.Sync()), size, errKind(err))
		case 13:
			res = fmt.Sprint(s.fs.Exists(p1))
		default:
			if l := s.locks[h%2]; l != nil {
				res = "unlock " + errKind(l.Close())
				s.locks[h%2] = nil
				break
			}
			l, err := s.fs.Lock(p1)
			if err == nil {
				s.locks[h%2] = l
			}
			res = errKind(err)
		}
		results = append(results, res)
	}
	return desc, results
}

// fuzzTree returns every file and directory under root (files with their
// contents), "missing" if root is gone, relative to root.
func fuzzTree(fs vfs.FS, root string) (map[string]string, error) {
	out := map[string]string{}
	if !fs.Exists(root) {
		out[""] = "missing"
		return out, nil
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		names, err := fs.List(path.Join(root, rel))
		if err != nil {
			return err
		}
		for _, name := range names {
			r := path.Join(rel, name)
			p := path.Join(root, r)
			if _, err := fs.List(p); err == nil {
				out[r] = "<dir>"
				if err := walk(r); err != nil {
					return err
				}
				continue
			}
			f, err := fs.Open(p)
			if err != nil {
				return err
			}
			b, err := io.ReadAll(f)
			_ = f.Close() // read-only
			if err != nil {
				return err
			}
			out[r] = string(b)
		}
		return nil
	}
	return out, walk("")
}

// compareFS runs the operations encoded in ops on every side and returns
// the first difference between them (nil when they all agree): an
// operation's outcome or bytes read, or the final tree.
func compareFS(ops []byte, sides []*fuzzSide) error {
	defer func() {
		for _, s := range sides {
			s.close()
		}
	}()
	r := &fuzzReader{b: ops}
	for i := 0; len(r.b) > 0 && i < 64; i++ {
		desc, res := fuzzStep(r, sides)
		for j := 1; j < len(res); j++ {
			if res[j] != res[0] {
				return fmt.Errorf("step %d (%s): side 0 %q, side %d %q", i, desc, res[0], j, res[j])
			}
		}
	}
	var first map[string]string
	for j, s := range sides {
		tree, err := fuzzTree(s.fs, s.root)
		if err != nil {
			return fmt.Errorf("side %d: reading the final tree: %w", j, err)
		}
		if j == 0 {
			first = tree
			continue
		}
		if !mapsEqual(first, tree) {
			return fmt.Errorf("final trees differ: side 0 %s, side %d %s", treeString(first), j, treeString(tree))
		}
	}
	return nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func treeString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v := m[k]
		if len(v) > 40 {
			v = fmt.Sprintf("%q... (%d bytes)", v[:40], len(v))
		} else {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, "%q=%s ", k, v)
	}
	return b.String()
}

// osAndMem returns the two sides of the differential test: the OS in a
// fresh temporary directory, and model (over a fresh MemFS) at /r.
func osAndMem(t testing.TB, model func(*vfs.MemFS) vfs.FS) []*fuzzSide {
	osRoot := t.TempDir() + "/r"
	if err := os.Mkdir(osRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/r"); err != nil {
		t.Fatal(err)
	}
	return []*fuzzSide{{fs: vfs.Default, root: osRoot}, {fs: model(mem), root: "/r"}}
}

func asIs(m *vfs.MemFS) vfs.FS { return m }

// fuzzSeeds are inputs that reach the odd cases at once.
var fuzzSeeds = [][]byte{
	{0, 0, 0, 0, 5, 9, 9, 0, 3, 0, 0, 0, 7, 0, 0, 0, 4, 0, 1, 3, 200, 0, 5, 0, 0, 0, 3, 1, 50, 19},
	{9, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 7, 3, 4, 0, 0, 0, 0, 0, 8, 3, 0, 0, 0, 0, 0, 0},
	{0, 7, 0, 0, 0, 0, 0, 0, 1, 12, 0, 1, 0, 0, 0, 0, 8, 10, 0, 0, 0, 0, 0, 0, 13, 9, 0, 0, 0, 0, 0, 0},
	{15, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 1, 0, 0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 1, 0, 0, 0, 0},
	{0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 0, 1, 16, 0, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 0, 1, 15, 255, 10},
	{9, 4, 0, 0, 0, 0, 0, 0, 7, 2, 5, 0, 0, 0, 0, 0, 7, 3, 14, 0, 0, 0, 0, 0, 8, 3, 0, 0, 0, 0, 0, 0},
	// Removals of names whose last component is "." or ".." (mkdir d,
	// remove d/.., x/.., d/., ., the root with a slash, a/..): MemFS's
	// EINVAL for d/.., where the OS says ENOTEMPTY, passed as "an error"
	// before outcomes were compared by errno.
	{9, 2, 0, 0, 0, 2, 0, 0, 8, 13, 0, 0, 0, 2, 0, 0, 8, 14, 0, 0, 0, 2, 0, 0, 8, 12, 0, 0, 0, 2, 0, 0,
		8, 11, 0, 0, 0, 2, 0, 0, 8, 10, 0, 0, 0, 2, 0, 0, 8, 15, 0, 0, 0, 2, 0, 0},
	// A read-only handle: truncate (EINVAL on Linux), write (EBADF),
	// read at -1 (EINVAL).
	{0, 0, 0, 0, 5, 2, 0, 0, 3, 0, 0, 0, 5, 2, 0, 0, 1, 0, 0, 1, 0, 2, 0, 0, 4, 0, 0, 1, 0, 2, 2, 0,
		3, 0, 0, 1, 3, 2, 0, 0, 5, 0, 0, 1, 0, 0, 0, 4},
	// A closed handle: read-at nothing (nothing checked, as os.File),
	// read nothing (closed). A scratch file said "closed" to the first.
	{0, 0, 0, 0, 0, 2, 0, 0, 11, 0, 0, 0, 0, 2, 0, 0, 5, 0, 0, 0, 0, 2, 0, 0, 6, 0, 0, 0, 0, 2, 0, 0},
	// Renames onto directories: d onto d/e, d/e onto d/e/.., d onto d/.
	{9, 4, 0, 0, 0, 2, 0, 0, 7, 2, 4, 0, 0, 2, 0, 0, 7, 4, 20, 0, 0, 2, 0, 0, 7, 2, 8, 0, 0, 2, 0, 0},
}

// FuzzMemFSMatchesOS decodes a short sequence of operations (create,
// open, open-append, write, truncate to sizes that may be negative or up
// to 1 MiB, read, read-at at such offsets, rename, remove, mkdir, list,
// close, sync, size, exists, sync-dir, lock) on a small set of names,
// odd ones included, runs it on MemFS and on the OS, and requires the same
// outcome for each operation (success, or which class of failure), the
// same bytes read, and the same final tree. Neither may panic.
// TestFuzzComparisonCatchesAWrongModel is its control.
func FuzzMemFSMatchesOS(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if err := compareFS(ops, osAndMem(t, asIs)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestFuzzComparisonCatchesAWrongModel is the negative control of
// FuzzMemFSMatchesOS: against a model that differs from the OS in one
// operation, the comparison must report a difference.
func TestFuzzComparisonCatchesAWrongModel(t *testing.T) {
	wrong := []struct {
		name  string
		model func(*vfs.MemFS) vfs.FS
		ops   []byte
	}{
		// Truncation refused: create a, truncate it to 5.
		{"no-truncate", func(m *vfs.MemFS) vfs.FS {
			return errorfs.Wrap(m, errorfs.OnKind(errorfs.OpTruncate, errorfs.ErrInjected))
		}, []byte{0, 0, 0, 0, 0, 2, 5, 0, 4, 0, 0, 0, 0, 2, 5, 0}},
		// A failing write that still wrote half: seen in the final tree
		// and the write's outcome.
		{"short-write", func(m *vfs.MemFS) vfs.FS {
			return errorfs.Wrap(m, errorfs.OnKind(errorfs.OpWrite, errorfs.ErrShortWrite))
		}, []byte{0, 0, 0, 0, 0, 2, 5, 0, 3, 0, 0, 0, 8, 2, 5, 0}},
		// The right failure with the wrong errno: mkdir d, remove d/..
		// (ENOTEMPTY on the OS, EINVAL here, as MemFS said). Outcomes
		// compared only as "an error" let it pass.
		{"wrong-errno", func(m *vfs.MemFS) vfs.FS {
			return errorfs.Wrap(m, errorfs.OnPath("..", errorfs.OnKind(errorfs.OpRemove, syscall.EINVAL)))
		}, []byte{9, 2, 0, 0, 0, 2, 0, 0, 8, 13, 0, 0, 0, 2, 0, 0}},
	}
	for _, w := range wrong {
		t.Run(w.name, func(t *testing.T) {
			if err := compareFS(w.ops, osAndMem(t, w.model)); err == nil {
				t.Fatal("the comparison found no difference from a wrong model")
			} else {
				t.Logf("caught: %v", err)
			}
		})
	}
	// And the same inputs on the real MemFS agree.
	for _, w := range wrong {
		if err := compareFS(w.ops, osAndMem(t, asIs)); err != nil {
			t.Fatalf("%s inputs on MemFS: %v", w.name, err)
		}
	}
}

// osAndScratch returns the OS in a fresh temporary directory and a
// Scratch filesystem at /r: the sides of FuzzScratchMatchesOS.
func osAndScratch(t testing.TB) []*fuzzSide {
	osRoot := t.TempDir() + "/r"
	if err := os.Mkdir(osRoot, 0o700); err != nil {
		t.Fatal(err)
	}
	sc := vfs.Scratch(t.TempDir())
	if err := sc.MkdirAll("/r"); err != nil {
		t.Fatal(err)
	}
	return []*fuzzSide{{fs: vfs.Default, root: osRoot}, {fs: sc, root: "/r"}}
}

// FuzzScratchMatchesOS is FuzzMemFSMatchesOS for a Scratch filesystem
// (names resolved as Linux does, errnos, handles, reuse of the spare file)
// against the OS, on the same seeds and corpus format.
func FuzzScratchMatchesOS(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		if err := compareFS(ops, osAndScratch(t)); err != nil {
			t.Fatal(err)
		}
	})
}
