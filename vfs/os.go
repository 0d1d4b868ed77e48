package vfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

type osFS struct{}

type osFile struct{ *os.File }

// Sync flushes the file's data (and the metadata needed to read it back,
// such as its size) but not its other metadata; see datasync.
func (f osFile) Sync() error { return datasync(f.File) }

// ReadAt refuses a negative offset with EINVAL, the errno pread(2) gives
// and the one MemFS and scratch files give: (*os.File).ReadAt's own
// "negative offset" wraps no errno, so the differential fuzzer could not
// tell it from any other failure.
func (f osFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &os.PathError{Op: "readat", Path: f.Name(), Err: syscall.EINVAL}
	}
	return f.File.ReadAt(p, off)
}

func (f osFile) Size() (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// The modes of what the OS filesystem creates: owner only. A data
// directory holds the whole state (the log and checkpoints are every
// page's bytes), so nobody else may read it by default, as etcd does with
// its data directory; an operator who wants more grants it on purpose.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

func (osFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, fileMode)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) OpenAppend(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) Remove(name string) error             { return os.Remove(name) }
func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (osFS) MkdirAll(dir string) error            { return os.MkdirAll(dir, dirMode) }
func (osFS) Join(elem ...string) string           { return filepath.Join(elem...) }
func (osFS) Exists(name string) bool              { _, err := os.Stat(name); return err == nil }

func (osFS) List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

type osLock struct{ f *os.File }

func (l osLock) Close() error {
	// Closing the descriptor releases the flock.
	return l.f.Close()
}

func (osFS) Lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close() // already failing or read-only: the error above is the one to report
		if err == unix.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s", ErrLocked, name)
		}
		return nil, fmt.Errorf("vfs: lock %s: %w", name, err)
	}
	return osLock{f}, nil
}
