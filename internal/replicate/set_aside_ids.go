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
// set-aside (dirID.mark), so that a directory made in DIR later cannot
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
	return err == nil && idOf(fi, string(b)) == id
}

// markBusDirs writes mark into each bus directory (busDirs) dir holds
// (SetAsideMarkFile), syncing it and the directory, and returns the
// identity of each, by name, taken after its mark was written.
func (n *Node) markBusDirs(dir, mark string) (map[string]dirID, error) {
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
		if err := writeSynced(filepath.Join(path, SetAsideMarkFile), mark, os.O_TRUNC); err != nil {
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
