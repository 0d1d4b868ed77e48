package errorfs

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"github.com/mmsb-go/mmsb/vfs"
)

// FS is a vfs.FS that asks an Injector before each operation. Create it with
// [Wrap].
type FS struct {
	fs       vfs.FS
	inj      Injector
	injected atomic.Int64
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns fs with faults injected by inj. It returns the concrete *FS
// (which implements vfs.FS) so that tests can read [FS.Injected].
func Wrap(fs vfs.FS, inj Injector) *FS {
	if inj == nil {
		inj = Never
	}
	return &FS{fs: fs, inj: inj}
}

// Unwrap returns the wrapped filesystem.
func (f *FS) Unwrap() vfs.FS { return f.fs }

// Injected returns how many faults have been injected so far.
func (f *FS) Injected() int { return int(f.injected.Load()) }

// maybe asks the injector about op and returns the error to report, or nil.
func (f *FS) maybe(op Op) error {
	err := f.inj.MaybeError(op)
	if err == nil {
		return nil
	}
	f.injected.Add(1)
	return &Error{Op: op, Err: err}
}

// Create implements vfs.FS.
func (f *FS) Create(name string) (vfs.File, error) {
	if err := f.maybe(Op{Kind: OpCreate, Path: name}); err != nil {
		return nil, err
	}
	file, err := f.fs.Create(name)
	if err != nil {
		return nil, err
	}
	return &errFile{fs: f, f: file, name: name}, nil
}

// Open implements vfs.FS.
func (f *FS) Open(name string) (vfs.File, error) {
	if err := f.maybe(Op{Kind: OpOpen, Path: name}); err != nil {
		return nil, err
	}
	file, err := f.fs.Open(name)
	if err != nil {
		return nil, err
	}
	return &errFile{fs: f, f: file, name: name}, nil
}

// OpenAppend implements vfs.FS.
func (f *FS) OpenAppend(name string) (vfs.File, error) {
	if err := f.maybe(Op{Kind: OpOpenAppend, Path: name}); err != nil {
		return nil, err
	}
	file, err := f.fs.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return &errFile{fs: f, f: file, name: name, appendMode: true}, nil
}

// Remove implements vfs.FS.
func (f *FS) Remove(name string) error {
	if err := f.maybe(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return f.fs.Remove(name)
}

// Rename implements vfs.FS.
func (f *FS) Rename(oldname, newname string) error {
	if err := f.maybe(Op{Kind: OpRename, Path: oldname, NewPath: newname}); err != nil {
		return err
	}
	return f.fs.Rename(oldname, newname)
}

// MkdirAll implements vfs.FS.
func (f *FS) MkdirAll(dir string) error {
	if err := f.maybe(Op{Kind: OpMkdirAll, Path: dir}); err != nil {
		return err
	}
	return f.fs.MkdirAll(dir)
}

// List implements vfs.FS.
func (f *FS) List(dir string) ([]string, error) {
	if err := f.maybe(Op{Kind: OpList, Path: dir}); err != nil {
		return nil, err
	}
	return f.fs.List(dir)
}

// Exists implements vfs.FS. It cannot fail, so it is never injected.
func (f *FS) Exists(name string) bool { return f.fs.Exists(name) }

// SyncDir implements vfs.FS.
func (f *FS) SyncDir(dir string) error {
	if err := f.maybe(Op{Kind: OpSyncDir, Path: dir}); err != nil {
		return err
	}
	return f.fs.SyncDir(dir)
}

// Lock implements vfs.FS.
func (f *FS) Lock(name string) (io.Closer, error) {
	if err := f.maybe(Op{Kind: OpLock, Path: name}); err != nil {
		return nil, err
	}
	return f.fs.Lock(name)
}

// Join implements vfs.FS.
func (f *FS) Join(elem ...string) string { return f.fs.Join(elem...) }

// errFile wraps an open file. It tracks the file offset itself (the File
// interface has no Seek) so that read and write operations can report it.
type errFile struct {
	fs         *FS
	f          vfs.File
	name       string
	appendMode bool

	mu  sync.Mutex // guards pos; held across the inner call to keep pos exact
	pos int64
}

func (e *errFile) Read(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.fs.maybe(Op{Kind: OpRead, Path: e.name, Offset: e.pos, N: len(p)}); err != nil {
		return 0, err
	}
	n, err := e.f.Read(p)
	e.pos += int64(n)
	return n, err
}

func (e *errFile) ReadAt(p []byte, off int64) (int, error) {
	if err := e.fs.maybe(Op{Kind: OpRead, Path: e.name, Offset: off, N: len(p)}); err != nil {
		return 0, err
	}
	return e.f.ReadAt(p, off)
}

func (e *errFile) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.appendMode {
		size, err := e.f.Size()
		if err != nil {
			return 0, err
		}
		e.pos = size
	}
	injErr := e.fs.maybe(Op{Kind: OpWrite, Path: e.name, Offset: e.pos, N: len(p)})
	if injErr == nil {
		n, err := e.f.Write(p)
		e.pos += int64(n)
		return n, err
	}
	if !errors.Is(injErr, io.ErrShortWrite) {
		return 0, injErr
	}
	keep := len(p) / 2
	var sw *ShortWriteError
	if errors.As(injErr, &sw) {
		keep = min(max(sw.Keep, 0), len(p))
	}
	n, err := e.f.Write(p[:keep])
	e.pos += int64(n)
	if err != nil {
		return n, err
	}
	return n, injErr
}

func (e *errFile) Sync() error {
	if err := e.fs.maybe(Op{Kind: OpSync, Path: e.name}); err != nil {
		return err
	}
	return e.f.Sync()
}

func (e *errFile) Truncate(size int64) error {
	if err := e.fs.maybe(Op{Kind: OpTruncate, Path: e.name, Offset: size}); err != nil {
		return err
	}
	return e.f.Truncate(size)
}

func (e *errFile) Size() (int64, error) {
	if err := e.fs.maybe(Op{Kind: OpSize, Path: e.name}); err != nil {
		return 0, err
	}
	return e.f.Size()
}

// Unwrap returns the wrapped file, so that vfs can tell an operating
// system file behind it (vfs.RemoveGradually reads its link count).
func (e *errFile) Unwrap() vfs.File { return e.f }

// Close always closes the wrapped file (close(2) releases the descriptor even
// when it reports an error), then reports an injected error if there is one.
func (e *errFile) Close() error {
	injErr := e.fs.maybe(Op{Kind: OpClose, Path: e.name})
	err := e.f.Close()
	if injErr != nil {
		return injErr
	}
	return err
}
