package vfs

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Scratch returns a filesystem for files that need no durability and must
// not outlive the process, such as the checkpoints of an in-memory bus.
// Its names and directories live in this process only; each file's bytes
// live in an unnamed temporary file in dir (os.TempDir() when dir is "";
// O_TMPFILE on Linux, elsewhere a file removed as soon as it is created).
// So the kernel's page cache holds the bytes, writes them out only after
// its dirty expiry or under memory pressure, and can then reclaim the
// memory, and nothing is left behind when the process ends, however it
// ends. Sync and SyncDir do nothing (SyncDir checks the directory exists),
// and files offer no writeback control (no RangeSyncer, RangeWaiter or
// SizeHinter). Names are slash-separated; Lock is exclusive within the FS.
//
// The unnamed file of the last file removed (and closed) is kept and
// reused, page cache and all, by the next file created (see scratchFS).
func Scratch(dir string) FS {
	if dir == "" {
		dir = os.TempDir()
	}
	return &scratchFS{dir: dir, files: map[string]*scratchNode{}, dirs: map[string]bool{"/": true, ".": true}, locks: map[*scratchNode]bool{}}
}

type scratchFS struct {
	dir   string // where the unnamed files are made
	mu    sync.Mutex
	files map[string]*scratchNode
	dirs  map[string]bool
	// locks holds the files locked, as flock(2) locks a file, not a
	// name: keyed by name, a lock stayed on the name after its file was
	// removed (a new file there could never be locked) and did not
	// follow a rename.
	locks map[*scratchNode]bool

	// spare is the unnamed OS file of the last node released (nil when
	// none), kept for the next new file, and spareLen its length. Closing
	// it would free its page cache, and on some VMs memory the guest
	// frees costs 13–20 µs a 4 KiB page at its next first use
	// (docs/benchmarks.md: the 2-core AMD EPYC VM reports every freed page
	// to the host). An in-memory bus writes each checkpoint of its whole
	// state into a new scratch file and then removes the previous one, so
	// each 1 GiB checkpoint faulted a gigabyte of fresh page cache in, 5 s
	// of CPU beside the commits; now it overwrites the one before last in
	// place. The cost: between checkpoints the page cache holds two
	// checkpoints instead of one (the peak, while one is written, is the
	// same).
	spare    *os.File
	spareLen int64
	// reused counts the files made on a spare (for tests).
	reused int
}

// scratchNode is one file's unnamed OS file. When it has no name and no
// open handle it becomes the filesystem's spare (see scratchFS.spare).
//
// A reused OS file may be longer than the node's file: size is the
// file's length, phys the OS file's (phys >= size). Bytes past size are
// an earlier file's; reads stop at size, and before size grows over
// them other than by writing them, the OS file is cut back to size (so
// the growth reads as zeros, as on the OS).
type scratchNode struct {
	f     *os.File
	refs  int
	named bool

	size atomic.Int64 // the file's length; read without wmu
	wmu  sync.Mutex   // serialises writes and truncations
	phys int64        // the OS file's length; guarded by wmu
}

// release drops a reference (a handle or the name). Caller holds fs.mu.
func (fs *scratchFS) release(n *scratchNode) error {
	if n.refs > 0 || n.named {
		return nil
	}
	old := fs.spare
	n.wmu.Lock()
	fs.spare, fs.spareLen = n.f, n.phys
	n.wmu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (fs *scratchFS) Create(name string) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t, err := fs.fileEntry("open", name)
	if err != nil {
		return nil, err
	}
	n := fs.files[t]
	if n != nil {
		if err := n.truncate(0); err != nil {
			return nil, err
		}
	} else {
		if n, err = fs.newNode(t, true); err != nil {
			return nil, err
		}
	}
	n.refs++
	return &scratchFile{fs: fs, n: n, name: name}, nil
}

// newNode creates the empty file name, on the spare OS file if reuse says
// so and there is one. Caller holds fs.mu and has checked that name is
// free and its parent exists.
func (fs *scratchFS) newNode(name string, reuse bool) (*scratchNode, error) {
	n := &scratchNode{named: true}
	if reuse && fs.spare != nil {
		n.f, n.phys = fs.spare, fs.spareLen
		fs.spare, fs.spareLen = nil, 0
		fs.reused++
	} else {
		f, err := unnamedFile(fs.dir)
		if err != nil {
			return nil, fmt.Errorf("vfs: scratch file for %s in %s: %w", name, fs.dir, err)
		}
		n.f = f
	}
	fs.files[name] = n
	return n, nil
}

func (fs *scratchFS) open(name string, appendAt bool) (File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t, isDir, err := fs.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if isDir {
		// As MemFS: a directory cannot be used through File. It is
		// not "no such file", which it used to be.
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	n := fs.files[t]
	h := &scratchFile{fs: fs, n: n, name: name, readOnly: !appendAt, appendMode: appendAt}
	n.refs++
	return h, nil
}

func (fs *scratchFS) Open(name string) (File, error)       { return fs.open(name, false) }
func (fs *scratchFS) OpenAppend(name string) (File, error) { return fs.open(name, true) }

func (fs *scratchFS) Remove(name string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p, err := fs.resolve("remove", name)
	if err != nil {
		return err
	}
	if p.dotted() {
		return p.removeDottedErr(name)
	}
	if err := p.lastTooLong("remove", name); err != nil {
		return err
	}
	t, _ := p.target()
	if n := fs.files[t]; n != nil {
		if p.slash {
			return pathErr("remove", name, syscall.ENOTDIR)
		}
		delete(fs.files, t)
		n.named = false
		return fs.release(n)
	}
	if !fs.dirs[t] {
		return pathErr("remove", name, syscall.ENOENT)
	}
	if len(fs.children(t)) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(fs.dirs, t)
	return nil
}

// Rename renames oldname to newname with the outcomes of os.Rename on
// Linux, as MemFS.Rename (whose checks, in the same order, it follows):
// an existing directory at newname is refused (EEXIST), a file named with
// a trailing slash is ENOTDIR, a directory cannot move into itself
// (EINVAL) nor replace a file (ENOTDIR), and a file cannot replace a
// directory (EISDIR).
func (fs *scratchFS) Rename(oldname, newname string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if dst, dstDir, err := fs.lookup("rename", newname); err == nil && dstDir {
		src, _, err := fs.lookup("rename", oldname)
		if err != nil {
			return err
		}
		if oldname == newname || src != dst {
			return pathErr("rename", newname, syscall.EEXIST)
		}
	}
	for _, name := range []string{oldname, newname} {
		if strings.IndexByte(name, 0) >= 0 {
			return pathErr("rename", name, syscall.EINVAL)
		}
	}
	op, err := fs.resolve("rename", oldname)
	if err != nil {
		return err
	}
	np, err := fs.resolve("rename", newname)
	if err != nil {
		return err
	}
	switch {
	case op.dotted():
		return pathErr("rename", oldname, syscall.EBUSY)
	case np.dotted():
		return pathErr("rename", newname, syscall.EBUSY)
	}
	if err := op.lastTooLong("rename", oldname); err != nil {
		return err
	}
	src, _ := op.target()
	srcFile, srcDir := fs.files[src], fs.dirs[src]
	if srcFile == nil && !srcDir {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	if err := np.lastTooLong("rename", newname); err != nil {
		return err
	}
	if srcFile != nil && (op.slash || np.slash) {
		return pathErr("rename", oldname, syscall.ENOTDIR)
	}
	dst, _ := np.target()
	dstFile, dstDir := fs.files[dst], fs.dirs[dst]
	switch {
	case srcDir && within(np.dir, src):
		// A directory cannot move inside itself.
		return pathErr("rename", newname, syscall.EINVAL)
	case dstDir && within(op.dir, dst):
		return pathErr("rename", newname, syscall.ENOTEMPTY)
	case src == dst:
		return nil // POSIX: renaming a file to itself does nothing
	case srcFile != nil && dstDir:
		return pathErr("rename", newname, syscall.EISDIR)
	case srcDir && dstFile != nil:
		return pathErr("rename", newname, syscall.ENOTDIR)
	case srcDir && dstDir && len(fs.children(dst)) != 0:
		return pathErr("rename", newname, syscall.ENOTEMPTY)
	}
	if srcFile != nil {
		if dstFile != nil {
			dstFile.named = false
			if err := fs.release(dstFile); err != nil {
				return err
			}
		}
		delete(fs.files, src)
		fs.files[dst] = srcFile
		return nil
	}
	// Move the directory and everything under it (onto dst, an empty
	// directory or nothing).
	move := func(p string) (string, bool) {
		if p == src {
			return dst, true
		}
		if rest, ok := strings.CutPrefix(p, src+"/"); ok {
			return dst + "/" + rest, true
		}
		return "", false
	}
	// Collect first: entries added while ranging over a map may be visited.
	var files, dirs []string
	for p := range fs.files {
		if _, ok := move(p); ok {
			files = append(files, p)
		}
	}
	for p := range fs.dirs {
		if _, ok := move(p); ok {
			dirs = append(dirs, p)
		}
	}
	moved := make(map[string]*scratchNode, len(files))
	for _, p := range files {
		q, _ := move(p)
		moved[q] = fs.files[p]
		delete(fs.files, p)
	}
	maps.Copy(fs.files, moved)
	for _, p := range dirs {
		delete(fs.dirs, p)
	}
	for _, p := range dirs {
		q, _ := move(p)
		fs.dirs[q] = true
	}
	return nil
}

// MkdirAll does what os.MkdirAll does, step for step, as MemFS.MkdirAll:
// a name that is already a directory succeeds, a file fails (ENOTDIR),
// otherwise the name without its last component is made first, then the
// name itself; so "x/.." makes x, as on the OS.
func (fs *scratchFS) MkdirAll(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.mkdirAllLocked(dir)
}

func (fs *scratchFS) mkdirAllLocked(dir string) error {
	return mkdirAll(dir, func(name string) (bool, error) {
		_, isDir, err := fs.lookup("mkdir", name)
		return isDir, err
	}, fs.mkdirLocked)
}

// mkdirLocked makes one directory, as mkdir(2). Caller holds fs.mu.
func (fs *scratchFS) mkdirLocked(dir string) error {
	p, err := fs.resolve("mkdir", dir)
	if err != nil {
		return err
	}
	if p.dotted() {
		return pathErr("mkdir", dir, syscall.EEXIST)
	}
	if err := p.lastTooLong("mkdir", dir); err != nil {
		return err
	}
	t, _ := p.target()
	if fs.dirs[t] || fs.files[t] != nil {
		return pathErr("mkdir", dir, syscall.EEXIST)
	}
	fs.dirs[t] = true
	return nil
}

// children returns the names directly under dir. Caller holds fs.mu.
func (fs *scratchFS) children(dir string) []string {
	var out []string
	add := func(p string) {
		if p != dir && path.Dir(p) == dir {
			out = append(out, path.Base(p))
		}
	}
	for p := range fs.files {
		add(p)
	}
	for p := range fs.dirs {
		add(p)
	}
	slices.Sort(out)
	return out
}

func (fs *scratchFS) List(dir string) ([]string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t, isDir, err := fs.lookup("open", dir)
	if err != nil {
		return nil, err
	}
	if !isDir {
		return nil, pathErr("readdirent", dir, syscall.ENOTDIR)
	}
	return fs.children(t), nil
}

func (fs *scratchFS) Exists(name string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, _, err := fs.lookup("stat", name)
	return err == nil
}

func (fs *scratchFS) SyncDir(dir string) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, isDir, err := fs.lookup("open", dir)
	if err != nil {
		return err
	}
	if !isDir {
		return pathErr("sync", dir, syscall.ENOTDIR)
	}
	return nil
}

type scratchLock struct {
	fs     *scratchFS
	n      *scratchNode
	name   string
	closed bool // guarded by fs.mu
}

// Close releases the lock. A second Close fails and releases nothing: it
// used to drop whatever lock the name held by then, another holder's.
func (l *scratchLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return &os.PathError{Op: "unlock", Path: l.name, Err: os.ErrClosed}
	}
	l.closed = true
	delete(l.fs.locks, l.n)
	return nil
}

func (fs *scratchFS) Lock(name string) (io.Closer, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	t, err := fs.fileEntry("open", name)
	if err != nil {
		return nil, err
	}
	n := fs.files[t]
	if n == nil { // like the OS's, a lock is a file
		// Not on the spare: a lock file stays, and would keep it.
		if n, err = fs.newNode(t, false); err != nil {
			return nil, err
		}
	}
	if fs.locks[n] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	fs.locks[n] = true
	return &scratchLock{fs: fs, n: n, name: t}, nil
}

func (fs *scratchFS) Join(elem ...string) string { return path.Join(elem...) }

// scratchFile is one handle on a scratch file: its own offset over the
// node's OS file (pread and pwrite), so handles do not move each other.
type scratchFile struct {
	fs       *scratchFS
	n        *scratchNode
	name     string
	off      int64
	readOnly bool
	// appendMode: every write goes to the file's end at that moment, as
	// with O_APPEND, wherever other handles or a truncation left it.
	appendMode bool
	// inUse is held shared by every call for as long as it runs and
	// exclusively by Close, so that Close waits for the calls in flight.
	// Without it a Write that had passed its check when Close ran
	// wrote afterwards into the node's OS file, which by then could be
	// the filesystem's spare, reused by the next file created: the
	// closed handle's bytes landed in another file
	// (TestScratchCloseWaitsForWrite).
	inUse  sync.RWMutex
	closed atomic.Bool
}

// begin starts a call: it holds inUse shared (the caller releases it
// with end) and checks the handle, releasing inUse if the check fails.
func (f *scratchFile) begin(op string, write bool) error {
	f.inUse.RLock()
	if err := f.check(op, write); err != nil {
		f.inUse.RUnlock()
		return err
	}
	return nil
}

func (f *scratchFile) end() { f.inUse.RUnlock() }

// testHookScratchWrite, when set (by tests), runs inside Write once the
// handle is checked.
var testHookScratchWrite func()

func (f *scratchFile) check(op string, write bool) error {
	if f.closed.Load() {
		return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
	}
	if write && f.readOnly {
		// As write(2) on a descriptor opened read-only (it was a plain
		// "file opened read-only", wrapping no errno).
		return &os.PathError{Op: op, Path: f.name, Err: syscall.EBADF}
	}
	return nil
}

func (f *scratchFile) Read(p []byte) (int, error) {
	if err := f.begin("read", false); err != nil {
		return 0, err
	}
	defer f.end()
	n, err := f.n.readAt(p, f.off)
	f.off += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (f *scratchFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		// Named by the file's name: the node's OS file has none (its
		// errors said "/tmp/(unnamed)"). Checked first, even on a
		// closed handle, as the OS file and MemFS do (it said "closed";
		// FuzzScratchMatchesOS).
		return 0, &os.PathError{Op: "readat", Path: f.name, Err: syscall.EINVAL}
	}
	if len(p) == 0 {
		// As (*os.File).ReadAt, which reads nothing and so checks
		// nothing, even on a closed handle (it said "closed").
		return 0, nil
	}
	if err := f.begin("read", false); err != nil {
		return 0, err
	}
	defer f.end()
	return f.n.readAt(p, off)
}

// readAt reads at off, stopping at the file's length (the OS file may go
// on with an earlier file's bytes).
func (n *scratchNode) readAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: n.f.Name(), Err: errors.New("negative offset")}
	}
	size := n.size.Load()
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	short := int64(len(p)) > size-off
	if short {
		p = p[:size-off]
	}
	k, err := n.f.ReadAt(p, off)
	if err == nil && short {
		err = io.EOF
	}
	return k, err
}

func (f *scratchFile) Write(p []byte) (int, error) {
	if err := f.begin("write", true); err != nil {
		return 0, err
	}
	defer f.end()
	if len(p) == 0 {
		// As write(2): an empty write neither extends the file nor moves
		// the offset, even past the end or in append mode. (It used to
		// set the length to the offset, past the OS file's end, so Size
		// counted bytes no read could return.)
		return 0, nil
	}
	if testHookScratchWrite != nil {
		testHookScratchWrite()
	}
	n, end, err := f.n.writeAt(p, f.off, f.appendMode)
	f.off = end
	return n, err
}

// writeAt writes p at off, or at the file's end when atEnd (the end read
// under wmu, so that appends through several handles never overwrite one
// another), and returns the bytes written and where they end. A write
// starting past the file's length first cuts the OS file back to it, so
// the gap reads as zeros, not as an earlier file's bytes.
func (n *scratchNode) writeAt(p []byte, off int64, atEnd bool) (int, int64, error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if atEnd {
		off = n.size.Load()
	}
	if err := n.cutTo(off); err != nil {
		return 0, off, err
	}
	k, err := n.f.WriteAt(p, off)
	end := off + int64(k)
	if end > n.size.Load() {
		n.phys = max(n.phys, end)
		n.size.Store(end)
	}
	return k, end, err
}

// cutTo truncates the OS file to the file's length when off is past it
// and the OS file holds bytes there. Caller holds wmu.
func (n *scratchNode) cutTo(off int64) error {
	if size := n.size.Load(); off > size && n.phys > size {
		if err := n.f.Truncate(size); err != nil {
			return err
		}
		n.phys = size
	}
	return nil
}

// truncate sets the file's length. Shrinking keeps the OS file's bytes
// (and their memory) for later writes; growing zero-fills.
func (n *scratchNode) truncate(size int64) error {
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: n.f.Name(), Err: errors.New("negative size")}
	}
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if err := n.cutTo(size); err != nil {
		return err
	}
	if size > n.phys {
		if err := n.f.Truncate(size); err != nil {
			return err
		}
		n.phys = size
	}
	n.size.Store(size)
	return nil
}

func (f *scratchFile) Sync() error { return f.check("sync", false) }

func (f *scratchFile) Truncate(size int64) error {
	if err := f.begin("truncate", false); err != nil {
		return err
	}
	defer f.end()
	if f.readOnly {
		// As ftruncate(2) on Linux of a descriptor not open for writing.
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: syscall.EINVAL}
	}
	return f.n.truncate(size)
}

func (f *scratchFile) Size() (int64, error) {
	if err := f.begin("stat", false); err != nil {
		return 0, err
	}
	defer f.end()
	return f.n.size.Load(), nil
}

func (f *scratchFile) Close() error {
	f.inUse.Lock() // wait for the calls in flight
	already := f.closed.Swap(true)
	f.inUse.Unlock()
	if already {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.n.refs--
	return f.fs.release(f.n)
}

// Mount returns a filesystem that serves dir and the paths under it from
// sub, at subDir (dir's prefix replaced by subDir), and every other path
// from base (a dir of "/" holds every absolute path, "." every relative
// one that does not climb out). Joins use base's rules. A rename between the two sides fails
// with an error wrapping syscall.EXDEV, as rename(2) across filesystems.
// An in-memory bus mounts a Scratch filesystem at its checkpoint
// directory, so that its log stays in memory and its checkpoints do not.
func Mount(base FS, dir string, sub FS, subDir string) FS {
	return &mountFS{base: base, dir: filepath.Clean(dir), sub: sub, subDir: subDir}
}

type mountFS struct {
	base   FS
	dir    string
	sub    FS
	subDir string
}

// route returns the filesystem serving name and name on it.
//
// The side is chosen on the cleaned name, but the name given to sub keeps
// the components written below the mount, so that sub resolves "x/..",
// "." and a trailing slash as the OS does: the cleaned name lost them, so
// Remove("dir/x/..") removed (or, not empty, failed on) the mount's own
// directory, and Open("dir/a/") opened the file a (conformance cases
// path-*, mount-sub).
func (m *mountFS) route(name string) (FS, string, bool) {
	c := filepath.Clean(name)
	if c == m.dir {
		if raw, ok := m.rawRest(name); ok {
			return m.sub, joinRaw(m.subDir, raw), true
		}
		return m.sub, m.subDir, true
	}
	if rest, ok := m.under(c); ok {
		if raw, ok := m.rawRest(name); ok {
			return m.sub, joinRaw(m.subDir, raw), true
		}
		return m.sub, m.sub.Join(m.subDir, rest), true
	}
	return m.base, name, false
}

// rawRest returns what name, as written, has past the mount's dir, when
// it starts with dir itself and no ".." in the rest climbs out of it;
// otherwise ok is false and the caller falls back to the cleaned name.
func (m *mountFS) rawRest(name string) (string, bool) {
	var rest string
	switch m.dir {
	case "/":
		if !strings.HasPrefix(name, "/") {
			return "", false
		}
		rest = name
	case ".":
		if strings.HasPrefix(name, "/") {
			return "", false
		}
		rest = name
	default:
		r, ok := strings.CutPrefix(name, m.dir)
		if !ok || (r != "" && r[0] != '/') {
			return "", false
		}
		rest = r
	}
	rel := strings.TrimLeft(rest, "/")
	if c := path.Clean(rel); c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return rest, true
}

// joinRaw appends rest (empty, or as written below a mount) to dir
// without cleaning it: one slash between them, rest's own trailing
// slash, ".", ".." and empty components kept.
func joinRaw(dir, rest string) string {
	rel := strings.TrimLeft(rest, "/")
	if rel == "" {
		if rest != "" {
			return strings.TrimRight(dir, "/") + "/"
		}
		return dir
	}
	return strings.TrimRight(dir, "/") + "/" + rel
}

// under reports whether the clean path c lies below the mount's dir, and
// the rest of c past it. A mount at "/" holds every absolute path, one at
// "." every relative one that does not climb out: the prefix "//" or
// "./", which no clean path has, made such mounts serve nothing below
// them from sub.
func (m *mountFS) under(c string) (string, bool) {
	switch m.dir {
	case "/":
		return strings.CutPrefix(c, "/")
	case ".":
		if filepath.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
			return "", false
		}
		return c, true
	}
	return strings.CutPrefix(c, m.dir+"/")
}

func (m *mountFS) Create(name string) (File, error) {
	fs, p, _ := m.route(name)
	return fs.Create(p)
}

func (m *mountFS) Open(name string) (File, error) {
	fs, p, _ := m.route(name)
	return fs.Open(p)
}

func (m *mountFS) OpenAppend(name string) (File, error) {
	fs, p, _ := m.route(name)
	return fs.OpenAppend(p)
}

func (m *mountFS) Remove(name string) error {
	fs, p, _ := m.route(name)
	return fs.Remove(p)
}

func (m *mountFS) Rename(oldname, newname string) error {
	ofs, op, oin := m.route(oldname)
	_, np, nin := m.route(newname)
	if oin != nin {
		// EXDEV, as rename(2) between two filesystems, so that callers can
		// tell it with errors.Is (it wrapped nothing).
		return fmt.Errorf("vfs: rename %s to %s: across the mount at %s: %w", oldname, newname, m.dir, syscall.EXDEV)
	}
	return ofs.Rename(op, np)
}

func (m *mountFS) MkdirAll(dir string) error {
	fs, p, _ := m.route(dir)
	return fs.MkdirAll(p)
}

func (m *mountFS) List(dir string) ([]string, error) {
	fs, p, _ := m.route(dir)
	return fs.List(p)
}

func (m *mountFS) Exists(name string) bool {
	fs, p, _ := m.route(name)
	return fs.Exists(p)
}

func (m *mountFS) SyncDir(dir string) error {
	fs, p, _ := m.route(dir)
	return fs.SyncDir(p)
}

func (m *mountFS) Lock(name string) (io.Closer, error) {
	fs, p, _ := m.route(name)
	return fs.Lock(p)
}

func (m *mountFS) Join(elem ...string) string { return m.base.Join(elem...) }

// createRemoved creates a temporary file in dir and removes its name.
func createRemoved(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "mmsb-scratch-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close() // already failing: the error above is the one to report
		return nil, err
	}
	return f, nil
}
