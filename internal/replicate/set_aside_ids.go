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

// dirID identifies a directory across a crash: its device and inode
// number, and its modification time (a directory removed and made again
// may get the same inode number; its entries changed, the time changes).
type dirID struct {
	dev, ino uint64
	mtime    int64 // Unix nanoseconds
}

func idOf(fi os.FileInfo) dirID {
	id := dirID{mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino) // Dev is an int32 on some systems
	}
	return id
}

// busDirIDs returns the identity of each bus directory (busDirs) dir
// holds, by name.
func busDirIDs(dir string) (map[string]dirID, error) {
	ids := map[string]dirID{}
	for _, sub := range busDirs {
		fi, err := os.Lstat(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("replicate: set aside %s: %w", dir, err)
		}
		ids[sub] = idOf(fi)
	}
	return ids, nil
}

// writeSetAsideManifest writes ids into part's manifest and syncs it and
// part: it is whole on disk before the first move.
func writeSetAsideManifest(part string, ids map[string]dirID) error {
	var b strings.Builder
	for _, sub := range busDirs { // in busDirs' order: the same bytes every time
		if id, ok := ids[sub]; ok {
			fmt.Fprintf(&b, "%s %d %d %d\n", sub, id.dev, id.ino, id.mtime)
		}
	}
	path := filepath.Join(part, setAsideManifest)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("replicate: set aside: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
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
		bad := len(f) != 4 || !slices.Contains(busDirs, f[0])
		var id dirID
		if !bad {
			var e1, e2, e3 error
			id.dev, e1 = strconv.ParseUint(f[1], 10, 64)
			id.ino, e2 = strconv.ParseUint(f[2], 10, 64)
			id.mtime, e3 = strconv.ParseInt(f[3], 10, 64)
			_, dup := ids[f[0]]
			bad = e1 != nil || e2 != nil || e3 != nil || dup
		}
		if bad {
			return nil, false, fmt.Errorf("replicate: finish an interrupted set-aside: %s line %d (%q) is not \"<bus directory> <device> <inode> <mtime ns>\"", path, i+1, line)
		}
		ids[f[0]] = id
	}
	return ids, true, nil
}
