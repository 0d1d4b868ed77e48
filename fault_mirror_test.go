package mmsb

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// mirrorFS runs every operation on primary (the OS filesystem; its results
// are what callers see) and repeats it on shadow (a vfs.MemFS), so that a
// fault row running on the real filesystem also has power-failure images:
// the shadow's crash images of exactly the operations the OS saw. The
// shadow's results are compared with the primary's and every difference is
// recorded: a shadow that diverged would make those images meaningless, so
// faultEnv fails the test on any.
type mirrorFS struct {
	primary, shadow vfs.FS

	mu    sync.Mutex
	diffs []string
}

var _ vfs.FS = (*mirrorFS)(nil)

func (m *mirrorFS) differ(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.diffs = append(m.diffs, fmt.Sprintf(format, args...))
}

// Differences returns what the shadow did differently from the primary.
func (m *mirrorFS) Differences() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.diffs)
}

// both compares the outcome of one operation on the two filesystems.
func (m *mirrorFS) both(op, name string, perr, serr error) error {
	if (perr == nil) != (serr == nil) {
		m.differ("%s %s: OS error %v, MemFS error %v", op, name, perr, serr)
	}
	return perr
}

func (m *mirrorFS) file(op, name string, pf vfs.File, perr error, sf vfs.File, serr error) (vfs.File, error) {
	m.both(op, name, perr, serr)
	if perr != nil {
		if sf != nil {
			sf.Close()
		}
		return nil, perr
	}
	if serr != nil {
		sf = nil // recorded; go on with the primary alone
	}
	return &mirrorFile{m: m, name: name, p: pf, s: sf}, nil
}

func (m *mirrorFS) Create(name string) (vfs.File, error) {
	pf, perr := m.primary.Create(name)
	sf, serr := m.shadow.Create(name)
	return m.file("create", name, pf, perr, sf, serr)
}

func (m *mirrorFS) Open(name string) (vfs.File, error) {
	pf, perr := m.primary.Open(name)
	sf, serr := m.shadow.Open(name)
	return m.file("open", name, pf, perr, sf, serr)
}

func (m *mirrorFS) OpenAppend(name string) (vfs.File, error) {
	pf, perr := m.primary.OpenAppend(name)
	sf, serr := m.shadow.OpenAppend(name)
	return m.file("open-append", name, pf, perr, sf, serr)
}

func (m *mirrorFS) Remove(name string) error {
	return m.both("remove", name, m.primary.Remove(name), m.shadow.Remove(name))
}

func (m *mirrorFS) Rename(oldname, newname string) error {
	return m.both("rename", oldname+" -> "+newname, m.primary.Rename(oldname, newname), m.shadow.Rename(oldname, newname))
}

func (m *mirrorFS) MkdirAll(dir string) error {
	return m.both("mkdir", dir, m.primary.MkdirAll(dir), m.shadow.MkdirAll(dir))
}

func (m *mirrorFS) SyncDir(dir string) error {
	return m.both("syncdir", dir, m.primary.SyncDir(dir), m.shadow.SyncDir(dir))
}

func (m *mirrorFS) List(dir string) ([]string, error) {
	p, perr := m.primary.List(dir)
	s, serr := m.shadow.List(dir)
	m.both("list", dir, perr, serr)
	if perr == nil && serr == nil && !slices.Equal(p, s) {
		m.differ("list %s: OS %q, MemFS %q", dir, p, s)
	}
	return p, perr
}

func (m *mirrorFS) Exists(name string) bool {
	p, s := m.primary.Exists(name), m.shadow.Exists(name)
	if p != s {
		m.differ("exists %s: OS %v, MemFS %v", name, p, s)
	}
	return p
}

func (m *mirrorFS) Lock(name string) (io.Closer, error) {
	pl, perr := m.primary.Lock(name)
	sl, serr := m.shadow.Lock(name)
	m.both("lock", name, perr, serr)
	if perr != nil {
		if sl != nil {
			sl.Close()
		}
		return nil, perr
	}
	return mirrorCloser{pl, sl}, nil
}

func (m *mirrorFS) Join(elem ...string) string { return m.primary.Join(elem...) }

type mirrorCloser struct{ p, s io.Closer }

func (c mirrorCloser) Close() error {
	if c.s != nil {
		c.s.Close()
	}
	return c.p.Close()
}

// mirrorFile is an open file on both filesystems (s is nil if the shadow
// could not open it, a difference already recorded).
type mirrorFile struct {
	m    *mirrorFS
	name string
	p, s vfs.File
}

func (f *mirrorFile) Read(b []byte) (int, error) {
	n, err := f.p.Read(b)
	if f.s != nil && n > 0 {
		// Read exactly what the primary read, so that both offsets move
		// alike, and compare it.
		sb := make([]byte, n)
		if sn, serr := io.ReadFull(f.s, sb); sn != n || !bytes.Equal(sb, b[:n]) {
			f.m.differ("read %s: OS read %d bytes, MemFS %d (%v) or other bytes", f.name, n, sn, serr)
		}
	}
	return n, err
}

func (f *mirrorFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.p.ReadAt(b, off)
	if f.s != nil {
		sb := make([]byte, len(b))
		sn, serr := f.s.ReadAt(sb, off)
		if sn != n || !bytes.Equal(sb[:sn], b[:n]) || (err == nil) != (serr == nil) {
			f.m.differ("read %s at %d: OS %d bytes (%v), MemFS %d bytes (%v) or other bytes", f.name, off, n, err, sn, serr)
		}
	}
	return n, err
}

func (f *mirrorFile) Write(b []byte) (int, error) {
	n, err := f.p.Write(b)
	if f.s != nil && n > 0 {
		// What reached the OS reaches the shadow, short writes included.
		if sn, serr := f.s.Write(b[:n]); sn != n {
			f.m.differ("write %s: OS wrote %d bytes, MemFS %d (%v)", f.name, n, sn, serr)
		}
	}
	return n, err
}

func (f *mirrorFile) Sync() error {
	err := f.p.Sync()
	if f.s != nil {
		f.m.both("sync", f.name, err, f.s.Sync())
	}
	return err
}

func (f *mirrorFile) Truncate(size int64) error {
	err := f.p.Truncate(size)
	if f.s != nil {
		f.m.both("truncate", f.name, err, f.s.Truncate(size))
	}
	return err
}

func (f *mirrorFile) Size() (int64, error) {
	n, err := f.p.Size()
	if f.s != nil {
		sn, serr := f.s.Size()
		f.m.both("size", f.name, err, serr)
		if err == nil && serr == nil && n != sn {
			f.m.differ("size %s: OS %d, MemFS %d", f.name, n, sn)
		}
	}
	return n, err
}

func (f *mirrorFile) Close() error {
	err := f.p.Close()
	if f.s != nil {
		f.m.both("close", f.name, err, f.s.Close())
	}
	return err
}

// SizeHint and StartWriteback are hints (no effect on contents or
// durability): forwarded where supported.
func (f *mirrorFile) SizeHint(n int64) {
	for _, x := range []vfs.File{f.p, f.s} {
		if h, ok := x.(vfs.SizeHinter); ok {
			h.SizeHint(n)
		}
	}
}

func (f *mirrorFile) StartWriteback(off, n int64) error {
	if rs, ok := f.p.(vfs.RangeSyncer); ok {
		return rs.StartWriteback(off, n)
	}
	return nil
}

func (f *mirrorFile) WaitWriteback(off, n int64) error {
	if rw, ok := f.p.(vfs.RangeWaiter); ok {
		return rw.WaitWriteback(off, n)
	}
	return nil
}

// TestMirrorFSRecordsDivergence is the negative control for mirrorFS: a
// shadow that does not do what the OS did must be reported, or the OS
// rows' crash images could silently be images of something else.
func TestMirrorFSRecordsDivergence(t *testing.T) {
	cases := []struct {
		name string
		// shadow builds the shadow for an OS directory dir.
		shadow func(t *testing.T, dir string) vfs.FS
		want   string // in a recorded difference; "" for none
	}{
		{"faithful", func(t *testing.T, dir string) vfs.FS { return memWithDir(t, dir) }, ""},
		{"shadow lacks the directory", func(t *testing.T, dir string) vfs.FS { return vfs.NewMem() }, "create"},
		{"shadow fsync fails", func(t *testing.T, dir string) vfs.FS {
			return errorfs.Wrap(memWithDir(t, dir), errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
		}, "sync"},
		{"shadow loses writes", func(t *testing.T, dir string) vfs.FS {
			return errorfs.Wrap(memWithDir(t, dir), errorfs.OnKind(errorfs.OpWrite, errorfs.ErrShortWrite))
		}, "write"},
		{"shadow holds other bytes", func(t *testing.T, dir string) vfs.FS {
			mem := memWithDir(t, dir)
			return &flipReads{FS: mem}
		}, "read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			m := &mirrorFS{primary: vfs.Default, shadow: c.shadow(t, dir)}
			name := m.Join(dir, "f")
			f, err := m.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("payload")); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 7)
			if _, err := f.ReadAt(buf, 0); err != nil {
				t.Fatal(err)
			}
			f.Close()
			diffs := strings.Join(m.Differences(), "; ")
			switch {
			case c.want == "" && diffs != "":
				t.Fatalf("faithful shadow reported: %s", diffs)
			case c.want != "" && !strings.Contains(diffs, c.want):
				t.Fatalf("differences %q do not report %q", diffs, c.want)
			}
		})
	}
}

func memWithDir(t *testing.T, dir string) *vfs.MemFS {
	t.Helper()
	mem := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(mem, dir); err != nil {
		t.Fatal(err)
	}
	return mem
}

// flipReads is a filesystem whose files read back with the first byte
// changed.
type flipReads struct{ vfs.FS }

func (f *flipReads) Create(name string) (vfs.File, error) {
	file, err := f.FS.Create(name)
	return flipFile{file}, err
}

type flipFile struct{ vfs.File }

func (f flipFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	if n > 0 {
		b[0] ^= 1
	}
	return n, err
}
