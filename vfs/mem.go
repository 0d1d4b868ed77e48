package vfs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// MemFS is an in-memory [FS] for tests. It is safe for concurrent use: one
// mutex guards the whole tree and every open file, which keeps the model
// simple and every observable state consistent (throughput is not a goal).
//
// Paths are slash-separated and resolved as Linux resolves them (not
// cleaned: "x/../a" fails when x is missing, and "a/" must be a directory);
// a leading slash is optional, so "db/x" and "/db/x" name the same file. As
// on the OS, a file can only be created in an existing directory
// ([MemFS.MkdirAll] first), and a file grows to at most 64 GiB (EFBIG).
//
// # Crash model
//
// Besides its current state, MemFS keeps the state a power failure would
// leave behind, so that [MemFS.CrashClone] can produce the "disk after
// reboot" image:
//
//   - File contents: only the bytes present at the file's last File.Sync are
//     durable. Writes and truncations after it are lost by a crash (unless
//     [CrashOptions.TornTail] keeps part of an unsynced append).
//   - Entries (a name in a directory, for a file or a directory): creating,
//     renaming and removing one become durable only when the directory that
//     holds the name is synced with [MemFS.SyncDir]. Until then a crash undoes
//     them: a new file vanishes, a renamed file goes back to its old name, a
//     removed file comes back (with its synced contents). Directories follow
//     the same rule, as on a real filesystem, where mkdir(2) is durable only
//     once its parent is fsynced: a directory made by [MemFS.MkdirAll] whose
//     parent was not synced vanishes, with everything in it, synced or not.
//     [CrashOptions.Entries] can keep some or all of the unsynced changes
//     instead, which is what a real filesystem may also do.
//
// Locks taken with [MemFS.Lock] are not part of the durable state: a crash
// releases them.
type MemFS struct {
	mu    sync.Mutex
	root  *memNode
	locks map[*memNode]bool
	// touched is signalled (under mu) when a toucher's claim on a file's
	// room ends (see touchAhead); writers into a claimed range wait on it.
	touched sync.Cond
	// touchers counts running touchAhead goroutines and touchSteps the
	// claims they have read (for tests).
	touchers   atomic.Int32
	touchSteps atomic.Int64
	// rooms holds the rooms of files nothing references any more, for
	// the next size hints (room.go).
	rooms *roomPools
}

// memNode is a file or a directory (an inode). A node may outlive its names:
// an open handle keeps a removed file alive, and a directory's durable
// entries may still point at a file that the current namespace no longer
// holds.
type memNode struct {
	isDir bool

	// Files.
	data []byte // current contents
	// synced is the contents as of the last Sync. After a Sync it aliases
	// data's backing array (capacity clipped to its length) so that Sync is
	// O(1) even for large logs synced after every commit; syncedShared says
	// so, and detachSynced copies it before any byte it can see is changed.
	synced       []byte
	syncedShared bool
	// [claimLo, claimHi) of data's room (past its length) is being read
	// by touchAhead; nothing writes there until the claim ends.
	claimLo, claimHi int

	// Directories.
	children map[string]*memNode // current entries
	durable  map[string]*memNode // entries a crash preserves
	pending  []memDirOp          // entry changes since the last SyncDir, oldest first
}

// memEntryChange sets name to node in a directory, or removes name when node
// is nil.
type memEntryChange struct {
	name string
	node *memNode
}

// memDirOp is one metadata operation on a directory. It is a slice so that a
// rename within one directory (add the new name, drop the old) is one atomic
// step in the crash model: a crash never shows half of it.
type memDirOp []memEntryChange

func newMemDir() *memNode {
	return &memNode{isDir: true, children: map[string]*memNode{}, durable: map[string]*memNode{}}
}

// NewMem returns an empty in-memory filesystem holding only the root
// directory.
func NewMem() *MemFS {
	m := &MemFS{root: newMemDir(), locks: map[*memNode]bool{}, rooms: &roomPools{}}
	m.touched.L = &m.mu
	return m
}

var _ FS = (*MemFS)(nil)

// Names are resolved as Linux resolves them, not cleaned: every component
// before the last must be an existing directory ("x/.." fails when x is
// missing, as it does on the OS), ".." climbs to the parent (the root's is
// the root), empty components and "." stay where they are, and a trailing
// slash (or a last component "." or "..") says the name must be a
// directory. A leading slash is optional: every name starts at the root.

// Linux's limits on names: NAME_MAX for one component, PATH_MAX (with its
// terminating NUL) for the whole name.
const (
	maxNameLen = 255
	maxPathLen = 4096
)

// memPath is a name split for resolution.
type memPath struct {
	dir   []string // the components before the last, as written
	last  string   // the last component; "" for the root ("/")
	slash bool     // a trailing slash: the name must be a directory
}

// dotted reports whether the last component names a directory by its
// relation to another ("", "." or ".."), so that no entry can be created,
// removed or renamed under it.
func (p memPath) dotted() bool { return p.last == "" || p.last == "." || p.last == ".." }

// checkName refuses, as the OS does, a name with a NUL byte (EINVAL), an
// empty name (ENOENT) and a name longer than PATH_MAX (ENAMETOOLONG).
func checkName(op, name string) error {
	switch {
	case strings.IndexByte(name, 0) >= 0:
		return pathErr(op, name, syscall.EINVAL)
	case name == "":
		return pathErr(op, name, syscall.ENOENT)
	case len(name) >= maxPathLen:
		return pathErr(op, name, syscall.ENAMETOOLONG)
	}
	return nil
}

// splitName checks name and splits it for resolution.
func splitName(op, name string) (memPath, error) {
	if err := checkName(op, name); err != nil {
		return memPath{}, err
	}
	trimmed := strings.TrimRight(name, "/")
	p := memPath{slash: len(trimmed) < len(name)}
	if trimmed == "" {
		return p, nil // the root
	}
	comps := strings.Split(trimmed, "/")
	p.dir, p.last = comps[:len(comps)-1], comps[len(comps)-1]
	return p, nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// walkDir resolves comps from the root, each to a directory, and returns
// the directories from the root to the one comps name (the last element).
func (m *MemFS) walkDir(op, name string, comps []string) ([]*memNode, error) {
	stack := []*memNode{m.root}
	for _, c := range comps {
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if len(c) > maxNameLen {
			return nil, pathErr(op, name, syscall.ENAMETOOLONG)
		}
		next := stack[len(stack)-1].children[c]
		switch {
		case next == nil:
			return nil, pathErr(op, name, syscall.ENOENT)
		case !next.isDir:
			return nil, pathErr(op, name, syscall.ENOTDIR)
		}
		stack = append(stack, next)
	}
	return stack, nil
}

// lookup returns the node name resolves to.
func (m *MemFS) lookup(op, name string) (*memNode, error) {
	p, err := splitName(op, name)
	if err != nil {
		return nil, err
	}
	stack, err := m.walkDir(op, name, p.dir)
	if err != nil {
		return nil, err
	}
	switch p.last {
	case "", ".":
		return stack[len(stack)-1], nil
	case "..":
		return stack[max(len(stack)-2, 0)], nil
	}
	if len(p.last) > maxNameLen {
		return nil, pathErr(op, name, syscall.ENAMETOOLONG)
	}
	n := stack[len(stack)-1].children[p.last]
	switch {
	case n == nil:
		return nil, pathErr(op, name, syscall.ENOENT)
	case p.slash && !n.isDir:
		return nil, pathErr(op, name, syscall.ENOTDIR)
	}
	return n, nil
}

// parent resolves the directory that holds name's entry: the directories
// from the root to it (the last element), and name split. A name whose last
// component is "", "." or ".." has no entry to create, remove or rename:
// once its directories resolve, it fails with dotErr, the errno the OS
// gives for op (or, when dotErr is 0, is returned for the caller to judge).
func (m *MemFS) parent(op, name string, dotErr syscall.Errno) ([]*memNode, memPath, error) {
	p, err := splitName(op, name)
	if err != nil {
		return nil, p, err
	}
	stack, err := m.walkDir(op, name, p.dir)
	if err != nil {
		return nil, p, err
	}
	if p.dotted() {
		if dotErr == 0 {
			return stack, p, nil // the caller decides
		}
		return nil, p, pathErr(op, name, dotErr)
	}
	return stack, p, nil
}

// entryParent is parent for a call that creates or removes one entry:
// the directories from the root to the one holding it, name split, and a
// last component longer than NAME_MAX refused once they resolve.
func (m *MemFS) entryParent(op, name string, dotErr syscall.Errno) ([]*memNode, memPath, error) {
	stack, p, err := m.parent(op, name, dotErr)
	if err == nil {
		err = p.lastTooLong(op, name)
	}
	return stack, p, err
}

// removeDottedErr is Remove's error for a name whose last component names
// no entry (p.dotted()): rmdir(2)'s errno, which os.Remove reports
// (unlink's being EISDIR): "." is EINVAL, ".." ENOTEMPTY, the root EBUSY.
// All were EINVAL, so Remove("x/..") said "invalid argument" where the OS
// says "directory not empty".
func (p memPath) removeDottedErr(name string) error {
	errno := syscall.EINVAL
	switch p.last {
	case "..":
		errno = syscall.ENOTEMPTY
	case "":
		errno = syscall.EBUSY
	}
	return pathErr("remove", name, errno)
}

// lastTooLong refuses a last component longer than NAME_MAX, which the OS
// finds when it looks the entry up (after resolving the directories of
// both names of a rename).
func (p memPath) lastTooLong(op, name string) error {
	if len(p.last) > maxNameLen {
		return pathErr(op, name, syscall.ENAMETOOLONG)
	}
	return nil
}

// setEntry changes entries of dir in the current namespace and records
// the change as one pending (not yet durable) operation.
func (n *memNode) setEntry(op memDirOp) {
	for _, c := range op {
		if c.node == nil {
			delete(n.children, c.name)
		} else {
			n.children[c.name] = c.node
		}
	}
	n.pending = append(n.pending, op)
}

// applyEntries applies pending operations, in order, to a durable entry map.
func applyEntries(m map[string]*memNode, ops []memDirOp) {
	for _, op := range ops {
		for _, c := range op {
			if c.node == nil {
				delete(m, c.name)
			} else {
				m[c.name] = c.node
			}
		}
	}
}

// detachSynced ends the sharing between synced and data before a byte at
// index from or beyond is modified in data, if synced could see that byte.
// It copies whichever of the two is shorter: after a truncation that is the
// live contents, otherwise the synced ones.
func (n *memNode) detachSynced(from int) {
	if !n.syncedShared || from >= len(n.synced) {
		return
	}
	if len(n.data) < len(n.synced) {
		n.data = append(make([]byte, 0, max(2*len(n.data), 512)), n.data...)
	} else {
		n.synced = bytes.Clone(n.synced)
	}
	n.syncedShared = false
}

// resize sets the file's length, zero-filling when it grows.
func (n *memNode) resize(size int) { n.grow(size, size) }

// grow sets the file's length to size, which may shrink it, zero-filling
// the new bytes before keep (those from keep on are about to be written
// by the caller: clearing them too wrote an appending log twice).
func (n *memNode) grow(size, keep int) {
	old := len(n.data)
	if size <= old {
		n.data = n.data[:size]
		return
	}
	n.detachSynced(old)
	if size > cap(n.data) {
		// Double: append's gentler growth for large slices copies a
		// growing log several times over.
		// Doubling stops at the file size limit: room past it could
		// never be used, and Go zeroes reused memory it hands out.
		grown := make([]byte, old, max(size, min(2*cap(n.data), int(memFileLimit())), 512))
		copy(grown, n.data)
		n.data = grown
	}
	n.data = n.data[:size]
	clear(n.data[old:max(old, min(keep, size))])
}

// writeAt writes p at off, growing (and zero-filling any gap) as needed.
func (n *memNode) writeAt(p []byte, off int) {
	n.detachSynced(min(off, len(n.data)))
	if end := off + len(p); end > len(n.data) {
		n.grow(end, off)
	}
	copy(n.data[off:], p)
}

func (n *memNode) sync() {
	n.synced = n.data[:len(n.data):len(n.data)]
	n.syncedShared = true
}

// fileNodeLocked returns the file node at name, creating it (a new entry,
// durable only after SyncDir) if absent; existed says which. A directory at
// name is an error. Caller holds m.mu.
func (m *MemFS) fileNodeLocked(name string) (n *memNode, existed bool, err error) {
	stack, p, err := m.entryParent("open", name, syscall.EISDIR)
	if err != nil {
		return nil, false, err
	}
	if p.slash {
		// open(2) with O_CREAT refuses a trailing slash, whatever is there.
		return nil, false, pathErr("open", name, syscall.EISDIR)
	}
	dir := stack[len(stack)-1]
	n = dir.children[p.last]
	switch {
	case n == nil:
		n = &memNode{}
		dir.setEntry(memDirOp{{p.last, n}})
		return n, false, nil
	case n.isDir:
		return nil, false, pathErr("open", name, syscall.EISDIR)
	}
	return n, true, nil
}

// Create creates or truncates name for reading and writing. The parent
// directory must exist. A new entry is durable only after SyncDir; the
// truncation of an existing file only after File.Sync.
func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, existed, err := m.fileNodeLocked(name)
	if err != nil {
		return nil, err
	}
	if existed {
		n.resize(0)
	}
	return &memFile{fs: m, n: n, name: name, writable: true}, nil
}

// openFile returns the file node called name.
func (m *MemFS) openFile(name string) (*memNode, error) {
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.isDir {
		// os.Open allows opening a directory; MemFS does not, since nothing
		// useful can be done with one through File.
		return nil, pathErr("open", name, syscall.EISDIR)
	}
	return n, nil
}

// Open opens name read-only.
func (m *MemFS) Open(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.openFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{fs: m, n: n, name: name}, nil
}

// OpenAppend opens an existing file for appending (and reading from the
// start).
func (m *MemFS) OpenAppend(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.openFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{fs: m, n: n, name: name, writable: true, appendMode: true}, nil
}

// Remove removes a file or an empty directory. The removal is durable only
// after SyncDir of the directory that held it. Open handles to a removed file
// keep working, as on the OS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	stack, p, err := m.entryParent("remove", name, 0)
	if err != nil {
		return err
	}
	if p.dotted() {
		return p.removeDottedErr(name)
	}
	dir := stack[len(stack)-1]
	n := dir.children[p.last]
	switch {
	case n == nil:
		return pathErr("remove", name, syscall.ENOENT)
	case p.slash && !n.isDir:
		return pathErr("remove", name, syscall.ENOTDIR)
	case n.isDir && len(n.children) != 0:
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	dir.setEntry(memDirOp{{p.last, nil}})
	return nil
}

// Rename renames oldname to newname, atomically replacing a file (or an empty
// directory, when renaming a directory) at newname. The rename is durable
// once the directories involved are synced; a rename within one directory is
// atomic in the crash model too (a crash shows either the old or the new
// name, never both or neither).
//
// The outcome is the OS's (os.Rename on Linux): renaming onto an existing
// directory fails (os.Rename refuses it before rename(2) is called, even
// for an empty one, and even for a directory renamed to its own name), a
// name with a trailing slash must be a directory, and a directory cannot
// move into its own subtree.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// os.Rename: an existing directory at newname is refused, after
	// reporting a problem with oldname.
	if dst, err := m.lookup("rename", newname); err == nil && dst.isDir {
		src, err := m.lookup("rename", oldname)
		if err != nil {
			return err
		}
		if oldname == newname || src != dst {
			return pathErr("rename", newname, syscall.EEXIST)
		}
	}
	// rename(2): both names are converted before either is resolved.
	for _, name := range []string{oldname, newname} {
		if strings.IndexByte(name, 0) >= 0 {
			return pathErr("rename", name, syscall.EINVAL)
		}
	}
	// rename(2) resolves both directories before it looks at the names.
	ostack, op, err := m.parent("rename", oldname, 0)
	if err != nil {
		return err
	}
	nstack, np, err := m.parent("rename", newname, 0)
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
	odir, ndir := ostack[len(ostack)-1], nstack[len(nstack)-1]
	n := odir.children[op.last]
	if n == nil {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	if err := np.lastTooLong("rename", newname); err != nil {
		return err
	}
	if !n.isDir && (op.slash || np.slash) {
		return pathErr("rename", oldname, syscall.ENOTDIR)
	}
	dst := ndir.children[np.last]
	switch {
	case n.isDir && slices.Contains(nstack, n):
		// A directory cannot move inside itself.
		return pathErr("rename", newname, syscall.EINVAL)
	case dst != nil && slices.Contains(ostack, dst):
		return pathErr("rename", newname, syscall.ENOTEMPTY)
	case dst == n:
		return nil // POSIX: renaming a file to itself does nothing
	case !n.isDir && dst != nil && dst.isDir:
		return pathErr("rename", newname, syscall.EISDIR)
	case n.isDir && dst != nil && !dst.isDir:
		return pathErr("rename", newname, syscall.ENOTDIR)
	case n.isDir && dst != nil && len(dst.children) != 0:
		return pathErr("rename", newname, syscall.ENOTEMPTY)
	}
	if odir == ndir {
		odir.setEntry(memDirOp{{np.last, n}, {op.last, nil}})
	} else {
		ndir.setEntry(memDirOp{{np.last, n}})
		odir.setEntry(memDirOp{{op.last, nil}})
	}
	return nil
}

// MkdirAll creates a directory and any missing parents. Each new directory is
// durable only after SyncDir of its parent (see the crash model on [MemFS]);
// [MkdirAllAndSync] does both.
//
// It does what os.MkdirAll does, step for step: a name that is already a
// directory succeeds, otherwise the parent (the name without its last
// component) is made first, then the name itself; so "x/.." makes x, as on
// the OS.
func (m *MemFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mkdirAllLocked(dir)
}

func (m *MemFS) mkdirAllLocked(dir string) error {
	return mkdirAll(dir, func(name string) (bool, error) {
		n, err := m.lookup("mkdir", name)
		return err == nil && n.isDir, err
	}, m.mkdirLocked)
}

// mkdirAll makes dir and its missing parents as os.MkdirAll does, for an
// in-memory filesystem (MemFS, scratch) whose lock the caller holds:
// isDir looks a name up (an error when it does not resolve), mkdir makes
// one directory as mkdir(2). A parent is dir without its last element,
// not a cleaned path, so that "x/.." makes x, as on the OS.
func mkdirAll(dir string, isDir func(string) (bool, error), mkdir func(string) error) error {
	if d, err := isDir(dir); err == nil {
		if d {
			return nil
		}
		return pathErr("mkdir", dir, syscall.ENOTDIR)
	}
	i := len(dir) - 1
	for i >= 0 && dir[i] == '/' {
		i--
	}
	for i >= 0 && dir[i] != '/' {
		i--
	}
	if parent := dir[:max(i, 0)]; parent != "" {
		if err := mkdirAll(parent, isDir, mkdir); err != nil {
			return err
		}
	}
	if err := mkdir(dir); err != nil {
		if d, lerr := isDir(dir); lerr == nil && d {
			return nil // "d/." and the like
		}
		return err
	}
	return nil
}

// mkdirLocked makes one directory, as mkdir(2). Caller holds m.mu.
func (m *MemFS) mkdirLocked(dir string) error {
	stack, p, err := m.entryParent("mkdir", dir, syscall.EEXIST)
	if err != nil {
		return err
	}
	parent := stack[len(stack)-1]
	if parent.children[p.last] != nil {
		return pathErr("mkdir", dir, syscall.EEXIST)
	}
	parent.setEntry(memDirOp{{p.last, newMemDir()}})
	return nil
}

// List returns the sorted names of the entries in dir.
func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, pathErr("readdirent", dir, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Exists reports whether name exists (file or directory).
func (m *MemFS) Exists(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.lookup("stat", name)
	return err == nil
}

// SyncDir makes the entries of dir (creations, renames and removals of files
// and directories so far) durable.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("open", dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return pathErr("sync", dir, syscall.ENOTDIR)
	}
	applyEntries(n.durable, n.pending)
	n.pending = nil
	return nil
}

// Lock takes an exclusive lock on name, creating the file if needed (its
// entry is durable only after SyncDir, like any new file). Locks are per file,
// not per path: a lock survives the file's rename, as flock does.
func (m *MemFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, _, err := m.fileNodeLocked(name)
	if err != nil {
		return nil, err
	}
	if m.locks[n] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	m.locks[n] = true
	return &memLock{fs: m, n: n, name: name}, nil
}

// Join joins path elements with slashes.
func (m *MemFS) Join(elem ...string) string { return path.Join(elem...) }

// Usage returns the total size in bytes of the files in the current
// namespace (files that are removed but still open are not counted). Tests
// use it to check space reclamation and to model a full disk.
func (m *MemFS) Usage() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var total int64
	var walk func(d *memNode)
	walk = func(d *memNode) {
		for _, c := range d.children {
			if c.isDir {
				walk(c)
			} else {
				total += int64(len(c.data))
			}
		}
	}
	walk(m.root)
	return total
}

// EntryMode says what a simulated crash does with entry changes
// (creations, renames, removals) that were not made durable by SyncDir.
type EntryMode int

const (
	// DropUnsyncedEntries undoes every unsynced entry change: the strictest
	// model, and the default.
	DropUnsyncedEntries EntryMode = iota
	// KeepUnsyncedEntries keeps every entry change, as if the filesystem had
	// written all its metadata just before the crash. File contents still
	// follow the File.Sync rule, so a kept new file is typically empty.
	KeepUnsyncedEntries
	// RandomUnsyncedEntries keeps, per directory, a pseudo-random prefix (in
	// operation order, chosen from CrashOptions.Seed) of the unsynced entry
	// changes, as a journaling filesystem that commits metadata in order may.
	// The two halves of a rename across directories are kept independently.
	RandomUnsyncedEntries
)

// CrashOptions tunes [MemFS.CrashCloneWith]. The zero value is the strict
// model of [MemFS.CrashClone]. Every random choice comes from Seed, and the
// tree is walked in sorted order, so the same state and options always give
// the same image.
type CrashOptions struct {
	// Seed drives every pseudo-random choice below.
	Seed int64
	// TornTail keeps, for each file whose current contents extend its synced
	// contents (unsynced appends), a pseudo-random prefix of the unsynced
	// bytes: anything from none to all of them. This produces torn log tails.
	// Files whose unsynced changes are not pure appends (a truncation, a
	// rewrite) keep their synced contents.
	TornTail bool
	// ZeroTornTail, with TornTail, replaces the kept unsynced bytes by zeros:
	// the file's size reached the disk but its data did not, which some
	// filesystems show after a crash.
	ZeroTornTail bool
	// Entries says what happens to unsynced entry changes.
	Entries EntryMode
}

// CrashClone returns a new MemFS holding only the durable state of m: the
// state a power failure at this instant would leave, under the strict model
// (unsynced bytes and unsynced entry changes are all lost). m is unchanged.
func (m *MemFS) CrashClone() *MemFS { return m.CrashCloneWith(CrashOptions{}) }

// CrashCloneWith is [MemFS.CrashClone] with a less strict, seeded model of
// what survives; see [CrashOptions]. In the clone every byte and entry is
// durable, and no lock is held.
func (m *MemFS) CrashCloneWith(opts CrashOptions) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &crasher{
		opts:     opts,
		rng:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		contents: map[*memNode][]byte{},
	}
	out := NewMem()
	c.cloneDir(m.root, out.root)
	return out
}

// crasher builds one crash image.
type crasher struct {
	opts CrashOptions
	rng  *rand.Rand
	// contents memoises each file's surviving bytes, so that a file reachable
	// under two names in the image (possible with non-strict entry modes)
	// has one torn-tail decision.
	contents map[*memNode][]byte
}

func (c *crasher) cloneDir(src, dst *memNode) {
	entries := make(map[string]*memNode, len(src.durable))
	for k, v := range src.durable {
		entries[k] = v
	}
	keep := 0
	switch c.opts.Entries {
	case KeepUnsyncedEntries:
		keep = len(src.pending)
	case RandomUnsyncedEntries:
		if len(src.pending) > 0 {
			keep = c.rng.IntN(len(src.pending) + 1)
		}
	}
	applyEntries(entries, src.pending[:keep])
	names := make([]string, 0, len(entries))
	for k := range entries {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		n := entries[name]
		if n.isDir {
			d := newMemDir()
			dst.children[name] = d
			dst.durable[name] = d
			c.cloneDir(n, d)
			continue
		}
		f := &memNode{data: bytes.Clone(c.survivingBytes(n))}
		if f.data == nil {
			f.data = []byte{}
		}
		f.sync()
		// Entries in the image are durable: nothing is pending.
		dst.children[name] = f
		dst.durable[name] = f
	}
}

// survivingBytes returns what a crash leaves of file n.
func (c *crasher) survivingBytes(n *memNode) []byte {
	if b, ok := c.contents[n]; ok {
		return b
	}
	b := n.synced
	if c.opts.TornTail && len(n.data) > len(n.synced) && bytes.HasPrefix(n.data, n.synced) {
		k := c.rng.IntN(len(n.data) - len(n.synced) + 1)
		b = n.data[:len(n.synced)+k]
		if c.opts.ZeroTornTail {
			b = append(bytes.Clone(n.synced), make([]byte, k)...)
		}
	}
	c.contents[n] = b
	return b
}

// memFile is an open handle. Its offset and flags are guarded by fs.mu.
type memFile struct {
	fs         *MemFS
	n          *memNode
	name       string
	pos        int64 // shared read/write offset, as on the OS
	writable   bool
	appendMode bool // every write goes to the end of the file
	closed     bool
}

// maxPrefaultHint is the largest size hint whose room is faulted in ahead.
const maxPrefaultHint = 64 << 20

// maxSizeHint is the largest size hint a MemFS file follows.
const maxSizeHint = 1 << 36

// maxMemFileSize is the most a MemFS file may ever grow to: a truncation
// or a write past it fails with EFBIG, as one past the filesystem's
// largest file does on the OS, instead of asking Go for a slice it cannot
// make (Truncate(math.MaxInt64) panicked in makeslice).
const maxMemFileSize = 1 << 36

// memFileLimit is the most a MemFS file may grow to on this machine:
// maxMemFileSize, and no more than half the RAM (memoryForHints). A file's
// bytes are Go memory, zeroed as it grows: Truncate(32 GiB) on a 23 GiB
// machine made a 32 GiB slice and the process died of it (the runtime's
// "out of memory", or the kernel's OOM killer while zeroing it), where
// EFBIG leaves the file and the process as they were.
func memFileLimit() int64 { return min(maxMemFileSize, memoryForHints()) }

// SizeHint reserves capacity for the file to grow to n bytes, so that
// appends up to n never copy the file (a growing log segment would
// otherwise be copied at every doubling, under the filesystem's lock).
//
// The room is allocated outside the filesystem's lock: allocating tens of
// MiB zeroes them when Go reuses freed memory (8 ms measured for a log
// segment's 80 MiB), and other files' writes must not wait for that.
func (f *memFile) SizeHint(n int64) {
	// The upper bound only guards against a nonsense hint: a checkpoint of
	// 4M 1 KiB pages is over 4 GiB, and growing it by doubling copies it
	// under the filesystem's lock. Nor is more than half the RAM reserved:
	// the runtime cannot get it and dies (memoryForHints).
	if n > maxSizeHint || n > memoryForHints() {
		return
	}
	f.fs.mu.Lock()
	nd := f.n
	have := int64(cap(nd.data))
	f.fs.mu.Unlock()
	if n <= have {
		return
	}
	room, recycled := f.fs.rooms.get(int(n))
	// Nothing below allocates while the lock is held: after allocating the
	// room, this goroutine's next allocation can be made to assist the
	// garbage collector for all of it (traced at 19 ms, with a commit
	// waiting for the lock to write its log record).
	f.fs.mu.Lock()
	if n <= int64(cap(nd.data)) || len(nd.data) > cap(room) {
		f.fs.mu.Unlock()
		return // grown meanwhile
	}
	// The synced image may share the old array; it keeps it.
	grown := append(room, nd.data...)
	nd.data = grown
	f.fs.mu.Unlock()
	// Fault the reserved room in on another goroutine: an appending log
	// would otherwise take a page fault (and, on some VMs, a costly first
	// access) every 4 KiB of records, on the commit's path. Only for new
	// log-sized rooms: a recycled room was faulted in during its first
	// life and never given back (room.go), and a checkpoint's gigabyte is
	// written by its own goroutine, off the commit's path, where faulting
	// it twice over would only cost memory bandwidth.
	if n <= maxPrefaultHint && prefaultSupported && !recycled {
		go f.fs.touchAhead(f, grown)
	}
}

// claimed reports whether bytes [lo, hi) of n's array are claimed by a
// toucher; the caller waits on the filesystem's touched before writing
// them. Caller holds the filesystem's lock.
func (n *memNode) claimed(lo, hi int) bool {
	return n.claimHi > lo && n.claimLo < hi
}

// touchAhead faults in and reads the room a size hint reserved for f's
// file (arr: its data as the hint left it, the room past its length), a
// step at a time, ahead of the writes that will fill it. On a VM where
// the first access to each 4 KiB page costs 10-20 µs even after the
// kernel has mapped it (a 2-core AMD EPYC VM: docs/benchmarks.md), an
// appending log paid that on the commit's path, a quarter of an
// in-memory commit and most of the committer's time with two workers.
//
// Reading the room while the file is being appended to is made safe by
// claims: each step claims its range under m.mu, reads it without the
// lock, and ends the claim under m.mu again; a write reaching a claimed
// range waits for the claim to end (Write, Truncate), so every write into
// the room happens after the reads of it. Claims start touchAheadGap past
// the file's length, so the appends rarely reach one; the toucher stops
// when the room is used up, the file's array changes or the handle f that
// gave the hint is closed.
func (m *MemFS) touchAhead(f *memFile, arr []byte) {
	m.touchers.Add(1)
	defer m.touchers.Add(-1)
	nd := f.n
	arr = arr[:cap(arr)]
	base := unsafe.SliceData(arr)
	next := 0
	for {
		m.mu.Lock()
		if f.closed || unsafe.SliceData(nd.data) != base || cap(nd.data) != len(arr) {
			m.mu.Unlock()
			return // closed, reallocated or dropped: nothing to run ahead of
		}
		lo := max(next, len(nd.data)+touchAheadGap)
		lo -= lo % touchPage
		hi := min(lo+touchStep, len(arr))
		if lo >= hi {
			m.mu.Unlock()
			return
		}
		nd.claimLo, nd.claimHi = lo, hi
		m.mu.Unlock()

		populate(arr[lo:hi])
		var sum byte
		for i := lo; i < hi; i += touchPage {
			sum += arr[i]
		}
		touchSink.Store(uint32(sum))
		m.touchSteps.Add(1)

		m.mu.Lock()
		nd.claimLo, nd.claimHi = 0, 0
		m.touched.Broadcast()
		m.mu.Unlock()
		next = hi
		runtime.Gosched()
	}
}

// touchAheadGap is how far past a file's length touchAhead starts a claim
// (a few batches of log records), and touchStep how much one claim
// covers: 16 pages, 0.2-0.3 ms at the slowest first accesses measured, the
// longest an append that does catch up with the toucher waits.
const (
	touchAheadGap = 256 << 10
	touchStep     = 64 << 10
	touchPage     = 4096
)

// touchSink keeps touchAhead's reads from being optimized away.
var touchSink atomic.Uint32

func (f *memFile) check(op string, write bool) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if write && !f.writable {
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.pos >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[f.pos:])
	f.pos += int64(n)
	return n, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off < 0 {
		return 0, pathErr("readat", f.name, syscall.EINVAL)
	}
	if len(p) == 0 {
		// As (*os.File).ReadAt, which reads nothing and so checks
		// nothing, even on a closed file.
		return 0, nil
	}
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off >= int64(len(f.n.data)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		// As write(2): an empty write neither extends the file nor moves
		// the offset, even past the end or in append mode.
		return 0, nil
	}
	if f.appendMode {
		f.pos = int64(len(f.n.data))
	}
	for f.n.claimed(min(int(f.pos), len(f.n.data)), int(f.pos)+len(p)) {
		f.fs.touched.Wait()
		if f.appendMode {
			f.pos = int64(len(f.n.data))
		}
	}
	if f.pos > memFileLimit()-int64(len(p)) {
		return 0, pathErr("write", f.name, syscall.EFBIG)
	}
	f.n.writeAt(p, int(f.pos))
	f.pos += int64(len(p))
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", false); err != nil {
		return err
	}
	f.n.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", false); err != nil {
		return err
	}
	if !f.writable {
		// ftruncate(2) of a descriptor not open for writing is EINVAL
		// on Linux (a write is EBADF); MemFS said EBADF.
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	if size > memFileLimit() {
		return pathErr("truncate", f.name, syscall.EFBIG)
	}
	for f.n.claimed(len(f.n.data), int(size)) {
		f.fs.touched.Wait()
	}
	f.n.resize(int(size))
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", false); err != nil {
		return 0, err
	}
	return int64(len(f.n.data)), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("close", false); err != nil {
		return err
	}
	f.closed = true
	return nil
}

// memLock is a lock held on a MemFS file.
type memLock struct {
	fs     *MemFS
	n      *memNode
	name   string
	closed bool
}

func (l *memLock) Close() error {
	l.fs.mu.Lock()
	defer l.fs.mu.Unlock()
	if l.closed {
		return pathErr("unlock", l.name, fs.ErrClosed)
	}
	l.closed = true
	delete(l.fs.locks, l.n)
	return nil
}
