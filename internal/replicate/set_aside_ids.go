package replicate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// setAsideManifest names the file that setAside writes into a
// DIR.diverged-<unix ns>.part directory before it moves anything there:
// one line per bus directory DIR held then, with that directory's
// identity (dirID). finishSetAside moves from DIR only the bus
// directories listed there that are still the same directories, so that
// what another writer made or changed in DIR after the crash (an
// operator's mmsb command, a node built before 2026-12-07) is never
// taken into the old bus's set-aside. The file is removed once every
// move is done, just before the rename to the final name: a part that
// holds bus directories and no manifest was filled whole.
const setAsideManifest = "SET-ASIDE"

// SetAsideMarkFile names the file that setAside writes into each bus
// directory of DIR before it writes the manifest: a random token of that
// set-aside (dirID.mark), then, on a line of its own, the absolute path
// of the part it fills (adoptMovedParts), so that a directory made in DIR later cannot
// pass for one the manifest names, even with the same device, inode
// number and modification time (a directory removed and made again within
// one timestamp tick may reuse the inode number: until 2026-12-07 such a
// directory was taken into the old bus's set-aside;
// TestFinishSetAsideRefusesDirWithSameStat). Its ".tmp" suffix keeps it
// out of what a bus reads and of hasState. It is removed again from every
// bus directory, moved or left, before the part is sealed or removed
// (unmarkBusDirs). One is left in wal/ or checkpoints/ only by a crash
// inside a set-aside, until the node's next start finishes it: the
// commands that judge a directory's files (cmd/mmsb) take it as a
// node's, not another program's.
const SetAsideMarkFile = "set-aside-mark.tmp"

// dirID identifies a directory across a crash: its device and inode
// number, its modification time (its entries changed, the time changes),
// and the token setAside wrote into it (SetAsideMarkFile; "" in a
// manifest written before 2026-12-07, which names none).
type dirID struct {
	dev, ino uint64
	mtime    int64 // Unix nanoseconds
	mark     string
}

// idOf returns the identity fi states, with mark (the token read from
// the directory's SetAsideMarkFile, or the one a manifest names).
func idOf(fi os.FileInfo, mark string) dirID {
	id := dirID{mtime: fi.ModTime().UnixNano(), mark: mark}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino) // Dev is an int32 on some systems
	}
	return id
}

// isDir reports whether the bus directory at path (fi, from Lstat) is
// still the directory id names: the same device, inode number and
// modification time, and, when id names a mark, holding it. A mark that
// cannot be read is not the one named.
func (id dirID) isDir(path string, fi os.FileInfo) bool {
	if id.mark == "" { // a manifest written before marks
		return idOf(fi, "") == id
	}
	b, err := os.ReadFile(filepath.Join(path, SetAsideMarkFile))
	token, _ := parseMark(b)
	return err == nil && idOf(fi, token) == id
}

// parseMark splits a set-aside mark (SetAsideMarkFile) into its token and
// the absolute path of the .part directory the set-aside was filling
// (part; "" in a mark written before 2026-12-07, the token alone).
func parseMark(b []byte) (token, part string) {
	token, part, _ = strings.Cut(string(b), "\n")
	return token, part
}

// markBusDirs writes mark, a line, then part's absolute path, into each
// bus directory (busDirs) dir holds (SetAsideMarkFile), syncing it and
// the directory, and returns the identity of each, by name, taken after
// its mark was written. The path lets finishSetAside find the part when
// it is no longer beside dir: one begun through a symbolic link is
// beside the link's target, and an operator who then replaced the link by
// the directory itself (mv TARGET DIR) left it beside a name nothing
// looks at (adoptMovedParts).
func (n *Node) markBusDirs(dir, part, mark string) (map[string]dirID, error) {
	abs, err := filepath.Abs(part)
	if err != nil {
		return nil, fmt.Errorf("replicate: set aside %s: %w", dir, err)
	}
	ids := map[string]dirID{}
	for _, sub := range busDirs {
		path := filepath.Join(dir, sub)
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("replicate: set aside %s: %w", dir, err)
		}
		if err := n.setAsideStep("mark " + sub); err != nil {
			return nil, err
		}
		if err := writeSynced(filepath.Join(path, SetAsideMarkFile), mark+"\n"+abs, os.O_TRUNC); err != nil {
			return nil, err
		}
		if err := syncFile(path); err != nil {
			return nil, err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return nil, fmt.Errorf("replicate: set aside %s: %w", dir, err)
		}
		ids[sub] = idOf(fi, mark)
	}
	return ids, nil
}

// unmarkBusDirs removes the set-aside mark (SetAsideMarkFile) from each
// bus directory dir holds, syncing each directory it changes. Only
// setAside writes that name, and only while it holds the directory's
// lock, so one found when no set-aside runs is a finished or interrupted
// one's, whatever token it holds.
func (n *Node) unmarkBusDirs(dir string) error {
	for _, sub := range busDirs {
		path := filepath.Join(dir, sub)
		if _, err := os.Lstat(filepath.Join(path, SetAsideMarkFile)); err != nil {
			continue // none (or out of reach: a move or the bus says so)
		}
		if err := n.setAsideStep("unmark " + path); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(path, SetAsideMarkFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replicate: set aside %s: %w", n.cfg.Dir, err)
		}
		if err := syncFile(path); err != nil {
			return err
		}
	}
	return nil
}

// writeSynced writes text to a new file at path (flag: os.O_EXCL or
// os.O_TRUNC) and syncs it.
func writeSynced(path, text string, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o644)
	if err != nil {
		return fmt.Errorf("replicate: set aside: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		_ = f.Close()
		return fmt.Errorf("replicate: set aside: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("replicate: set aside: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("replicate: set aside: close %s: %w", path, err)
	}
	return nil
}

// writeSetAsideManifest writes ids into part's manifest and syncs it and
// part: it is whole on disk before the first move.
func writeSetAsideManifest(part string, ids map[string]dirID) error {
	var b strings.Builder
	for _, sub := range busDirs { // in busDirs' order: the same bytes every time
		if id, ok := ids[sub]; ok {
			fmt.Fprintf(&b, "%s %d %d %d %s\n", sub, id.dev, id.ino, id.mtime, id.mark)
		}
	}
	if err := writeSynced(filepath.Join(part, setAsideManifest), b.String(), os.O_EXCL); err != nil {
		return err
	}
	return syncFile(part)
}

// readSetAsideManifest reads part's manifest: the bus directories DIR
// held when the set-aside began, by name (ok false: part holds no
// manifest). A manifest that does not parse is an error naming it.
func readSetAsideManifest(part string) (ids map[string]dirID, ok bool, err error) {
	path := filepath.Join(part, setAsideManifest)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("replicate: finish an interrupted set-aside: %w", err)
	}
	ids = map[string]dirID{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		// Four fields: a manifest written before marks (2026-12-07).
		bad := len(f) != 4 && len(f) != 5 || !slices.Contains(busDirs, f[0])
		var id dirID
		if !bad {
			var e1, e2, e3 error
			id.dev, e1 = strconv.ParseUint(f[1], 10, 64)
			id.ino, e2 = strconv.ParseUint(f[2], 10, 64)
			id.mtime, e3 = strconv.ParseInt(f[3], 10, 64)
			if len(f) == 5 {
				id.mark = f[4]
			}
			_, dup := ids[f[0]]
			bad = e1 != nil || e2 != nil || e3 != nil || dup
		}
		if bad {
			return nil, false, fmt.Errorf("replicate: finish an interrupted set-aside: %s line %d (%q) is not \"<bus directory> <device> <inode> <mtime ns> <mark>\"", path, i+1, line)
		}
		ids[f[0]] = id
	}
	return ids, true, nil
}

// adoptMovedParts moves beside dir (asideBase's path) each interrupted
// set-aside of dir's bus that a mark in one of dir's bus directories
// names elsewhere, keeping its name's time: a set-aside begun while dir
// was a symbolic link fills a part beside the link's target, and when
// the link is then replaced by the directory itself (rm DIR; mv TARGET
// DIR), neither the listing beside dir nor the one beside the link finds
// it. The part is taken only when its manifest names the marked
// directory with the mark's token, and only when it has the shape such a
// part has (partName, notMovedPart): anything else a mark names is
// refused (ErrSetAsidePartRefused), never moved. Until 2026-12-07 it was left there,
// unlisted, holding what it had taken (wal/), and the rest of the bus
// in dir was set aside later on its own as lost files
// (TestFinishSetAsideFindsPartOfReplacedLink). A part on another
// filesystem than dir's parent cannot be renamed there: the error names
// both, for an operator to move it.
func (n *Node) adoptMovedParts(dir string) error {
	base := filepath.Base(dir)
	for _, sub := range busDirs {
		b, err := os.ReadFile(filepath.Join(dir, sub, SetAsideMarkFile))
		if err != nil {
			continue // no mark (or out of reach: the finishing says so)
		}
		token, part := parseMark(b)
		if part == "" {
			continue // a mark written before the path
		}
		mark := filepath.Join(dir, sub, SetAsideMarkFile)
		began, suffix, ok := partName(part)
		if !ok {
			return fmt.Errorf("%w: %s names %q, not the absolute path of a <directory>%s<unix ns>%s; nothing was moved (remove the mark if no set-aside of %s was interrupted)",
				ErrSetAsidePartRefused, mark, part, setAsidePrefix, setAsidePartSuffix, n.cfg.Dir)
		}
		name := base + suffix // DIR.diverged-<unix ns>.part
		if filepath.Base(part) == name && sameDir(filepath.Dir(part), filepath.Dir(dir)) {
			continue // beside dir: listed
		}
		if fi, err := os.Lstat(part); err != nil || !fi.IsDir() {
			continue // finished or removed since (the mark is a crash's)
		}
		ids, listed, err := readSetAsideManifest(part)
		if err != nil || !listed || ids[sub].mark != token {
			continue // not this set-aside's part
		}
		if why := notMovedPart(dir, part, began); why != "" {
			return fmt.Errorf("%w: %s names %s, which %s; nothing was moved (if it is the part of an interrupted set-aside of %s, move it beside it as %s by hand; if not, remove the mark)",
				ErrSetAsidePartRefused, mark, part, why, n.cfg.Dir, name)
		}
		to := filepath.Join(filepath.Dir(dir), name)
		if err := n.setAsideStep("adopt " + part); err != nil {
			return err
		}
		if err := os.Rename(part, to); err != nil {
			return fmt.Errorf("replicate: finish an interrupted set-aside of %s: its part %s is not beside it (begun while %s was a symbolic link to another directory, since replaced), and moving it to %s failed: %w (move it there by hand: the next start finishes it)",
				n.cfg.Dir, part, n.cfg.Dir, to, err)
		}
		if err := syncFile(filepath.Dir(part)); err != nil {
			return err
		}
		if err := syncFile(filepath.Dir(to)); err != nil {
			return err
		}
		n.logf("node %s: a set-aside of %s begun while it was a symbolic link to another directory (since replaced) was interrupted: moved its %s beside it, to %s", n.cfg.ID, n.cfg.Dir, part, to)
	}
	return nil
}

// ErrSetAsidePartRefused is returned when a set-aside mark in the node's
// directory (SetAsideMarkFile) names, as the part of an interrupted set-aside, a
// directory that adoptMovedParts does not move: one not named and shaped
// as a part of this directory's set-aside begun beside a symbolic link's
// target (partName, notMovedPart). A mark is a file in the data
// directory, and its token is no secret to whoever can write there: until
// 2026-12-07 a mark and a manifest written by someone else made the node
// move any directory it could rename, from anywhere, next to its own
// (TestFinishSetAsideRefusesForeignPart). The node does not open its
// directory until an operator moves the part or removes the mark.
var ErrSetAsidePartRefused = errors.New("replicate: a set-aside mark names a directory that is not a part of this directory's set-aside")

// partName splits part, a path read from a set-aside mark, into the
// directory the set-aside began beside (the symbolic link's target then)
// and its suffix (.diverged-<unix ns>.part), when it is a clean absolute
// path of that shape.
func partName(part string) (began, suffix string, ok bool) {
	if !filepath.IsAbs(part) || filepath.Clean(part) != part {
		return "", "", false
	}
	name, isPart := strings.CutSuffix(filepath.Base(part), setAsidePartSuffix)
	i := strings.LastIndex(name, setAsidePrefix)
	if !isPart || i <= 0 {
		return "", "", false
	}
	digits := name[i+len(setAsidePrefix):]
	if ns, err := strconv.ParseInt(digits, 10, 64); err != nil || ns <= 0 || strconv.FormatInt(ns, 10) != digits {
		return "", "", false
	}
	return filepath.Join(filepath.Dir(part), name[:i]), filepath.Base(part)[i:], true
}

// notMovedPart says why part, a directory that a mark in dir names with
// its manifest naming the mark's token, is not what a set-aside begun
// while dir was a symbolic link to began left there, or "" when it is:
// the directory it was begun beside (began) no longer exists or is dir
// itself (the link was replaced by it), it belongs to the node's user,
// and it holds nothing but its manifest and bus directories (real
// directories). A token alone proves nothing: whoever wrote the mark can
// write the manifest too.
func notMovedPart(dir, part, began string) string {
	if _, err := os.Lstat(began); err == nil && !sameDir(began, dir) {
		return fmt.Sprintf("was begun beside %s, still there and not %s", began, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("was begun beside %s, which cannot be looked at (%v)", began, err)
	}
	fi, err := os.Lstat(part)
	if err != nil {
		return fmt.Sprintf("cannot be looked at (%v)", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Sprintf("belongs to user %d, not to the node's (%d)", st.Uid, os.Geteuid())
	}
	ents, err := os.ReadDir(part)
	if err != nil {
		return fmt.Sprintf("cannot be listed (%v)", err)
	}
	for _, e := range ents {
		if e.Name() == setAsideManifest && e.Type().IsRegular() {
			continue
		}
		if !slices.Contains(busDirs, e.Name()) || !e.IsDir() {
			return fmt.Sprintf("holds %s, not a bus directory", e.Name())
		}
	}
	return ""
}

// sameDir reports whether a and b name the same directory (both there).
func sameDir(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
