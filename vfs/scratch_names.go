package vfs

import (
	"path"
	"strings"
	"syscall"
)

// A scratch filesystem resolves names as Linux does, as MemFS does (see
// splitName and walkDir), not by cleaning them: every component before
// the last must be an existing directory, ".." climbs to the parent, and a
// trailing slash or a last "." or ".." means a directory. It used to
// path.Clean every name, so Remove("d/.") removed d, Remove("a/") the file
// a, Remove("") the relative root, Create("n/") made a file n, and
// Rename("e", "e/g") moved a directory into itself, leaving its files
// under a parent that no longer existed (the conformance cases
// path-*).
//
// Paths are kept clean in the maps: absolute ones under "/", relative ones
// under "." (which Join makes of a relative name).

// scratchPath is a name resolved up to its last component.
type scratchPath struct {
	memPath
	dir string // the clean path of the directory holding the last component
}

// target is the clean path the name designates: the entry named by the
// last component, or the directory a last "", "." or ".." names. ok is
// false for ".." above the relative root, which no scratch path holds.
func (p scratchPath) target() (string, bool) {
	switch p.last {
	case "", ".":
		return p.dir, true
	case "..":
		if p.dir == "." {
			return "", false
		}
		return path.Dir(p.dir), true
	}
	return path.Join(p.dir, p.last), true
}

// resolve checks name and walks every component before the last, each to
// an existing directory. Caller holds fs.mu.
func (fs *scratchFS) resolve(op, name string) (scratchPath, error) {
	mp, err := splitName(op, name)
	if err != nil {
		return scratchPath{}, err
	}
	cur := "."
	if strings.HasPrefix(name, "/") {
		cur = "/"
	}
	for _, c := range mp.dir {
		switch c {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				// Above the relative root: nothing is there.
				return scratchPath{}, pathErr(op, name, syscall.ENOENT)
			}
			cur = path.Dir(cur)
			continue
		}
		if len(c) > maxNameLen {
			return scratchPath{}, pathErr(op, name, syscall.ENAMETOOLONG)
		}
		next := path.Join(cur, c)
		switch {
		case fs.dirs[next]:
			cur = next
		case fs.files[next] != nil:
			return scratchPath{}, pathErr(op, name, syscall.ENOTDIR)
		default:
			return scratchPath{}, pathErr(op, name, syscall.ENOENT)
		}
	}
	return scratchPath{memPath: mp, dir: cur}, nil
}

// lookup resolves name to what it designates: its clean path and whether
// that is a directory. A missing name is ENOENT, a file named with a
// trailing slash ENOTDIR. Caller holds fs.mu.
func (fs *scratchFS) lookup(op, name string) (string, bool, error) {
	p, err := fs.resolve(op, name)
	if err != nil {
		return "", false, err
	}
	if err := p.lastTooLong(op, name); err != nil {
		return "", false, err
	}
	t, ok := p.target()
	switch {
	case !ok:
		return "", false, pathErr(op, name, syscall.ENOENT)
	case fs.dirs[t]:
		return t, true, nil
	case fs.files[t] == nil:
		return "", false, pathErr(op, name, syscall.ENOENT)
	case p.slash:
		return "", false, pathErr(op, name, syscall.ENOTDIR)
	}
	return t, false, nil
}

// fileEntry resolves name for a call that may create a file there (Create,
// Lock): its clean path, refused as open(2) with O_CREAT refuses it (EISDIR
// for a directory, a trailing slash or a last "." or ".."). Caller holds
// fs.mu.
func (fs *scratchFS) fileEntry(op, name string) (string, error) {
	p, err := fs.resolve(op, name)
	if err != nil {
		return "", err
	}
	if p.dotted() {
		return "", pathErr(op, name, syscall.EISDIR)
	}
	if err := p.lastTooLong(op, name); err != nil {
		return "", err
	}
	t, _ := p.target()
	if p.slash || fs.dirs[t] {
		return "", pathErr(op, name, syscall.EISDIR)
	}
	return t, nil
}

// within reports whether the clean path p is d or lies below it.
func within(p, d string) bool {
	switch {
	case p == d:
		return true
	case d == "/":
		return strings.HasPrefix(p, "/")
	case d == ".":
		return !strings.HasPrefix(p, "/") && p != ".." && !strings.HasPrefix(p, "../")
	}
	return strings.HasPrefix(p, d+"/")
}
