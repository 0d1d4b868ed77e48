package replicate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestFinishSetAsideRefusesDirWithSameStat: a set-aside was interrupted
// after its move of wal/ (a crash); before the node ran again, the old
// checkpoints/ was removed and a new bus made in DIR whose checkpoints/
// has the same device, inode number and modification time as the one the
// manifest names (a directory removed and made again within one
// timestamp tick may reuse the inode number: here the manifest is
// rewritten to the new directory's numbers, which is what such a reuse
// gives). The finishing takes nothing of the new bus: DIR holds it byte
// for byte, the set-aside the old wal/ alone, with a line saying it is
// not whole, and no set-aside mark is left in either. Until 2026-12-07
// the identity was the device, inode and time only: the new bus's
// checkpoints/ went into the old bus's set-aside.
func TestFinishSetAsideRefusesDirWithSameStat(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	mkBus := func(size int) {
		t.Helper()
		bus, err := mmsb.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
	mkBus(64)
	logs := &logLines{t: t}
	n := &Node{cfg: NodeConfig{ID: "a", Dir: dir, Logf: logs.logf, setAsideStep: func(step string) error {
		if step == "move checkpoints" {
			return errCrash
		}
		return nil
	}}}
	if err := n.setAside("test", nil); !errors.Is(err, errCrash) {
		t.Fatalf("set-aside stopped before its move of checkpoints/: %v", err)
	}
	parts, err := setAsideParts(dir)
	if err != nil || len(parts) != 1 {
		t.Fatalf("parts %v (%v): want one", parts, err)
	}
	for _, sub := range busDirs {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	mkBus(32)
	newBus := busTree(t, dir)
	// The manifest's line for checkpoints/ given the new directory's
	// device, inode number and time, keeping the rest of the line.
	fi, err := os.Lstat(filepath.Join(dir, "checkpoints"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	manifest := filepath.Join(parts[0], setAsideManifest)
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	rewritten := false
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "checkpoints" {
			f[1], f[2], f[3] = fmt.Sprint(uint64(st.Dev)), fmt.Sprint(uint64(st.Ino)), fmt.Sprint(fi.ModTime().UnixNano())
			lines[i], rewritten = strings.Join(f, " "), true
		}
	}
	if !rewritten {
		t.Fatalf("%s names no checkpoints/: %q", manifest, b)
	}
	if err := os.WriteFile(manifest, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	n.cfg.setAsideStep = nil
	if err := n.finishSetAside(); err != nil {
		t.Fatal(err)
	}
	if d := sameTree(busTree(t, dir), newBus); d != "" {
		t.Fatalf("a directory of the same device, inode and time as the one set aside was taken: %s %s", dir, d)
	}
	asides, err := SetAsideDirs(dir)
	if err != nil || len(asides) != 1 {
		t.Fatalf("set aside: %v (%v), want one", asides, err)
	}
	for p := range busTree(t, asides[0]) {
		if !strings.HasPrefix(p, "wal"+string(filepath.Separator)) {
			t.Fatalf("the set-aside %s holds %s: only the old wal/ was set aside", asides[0], p)
		}
	}
	if logs.count("but not whole: checkpoints/ in") != 1 {
		t.Fatal("no line says the set-aside is not whole")
	}
}

// TestSetAsideSameThroughSymlink: a set-aside begun by a node given a
// symbolic link to its directory, and interrupted after its move of wal/
// (a crash), is finished by a node given the directory itself: the old
// bus is whole in one set-aside, nothing is left under .part, and the
// link and the directory list the same set-asides. Until 2026-12-07 the
// set-aside was named beside the link (link.diverged-<ns>.part), which a
// node given the directory never looked at: the .part stayed, and the
// directory's checkpoints/ were later set aside on their own.
func TestSetAsideSameThroughSymlink(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir, link := filepath.Join(parent, "bus"), filepath.Join(parent, "link")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{9})}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	want := busTree(t, dir)
	if err := os.Symlink("bus", link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	viaLink := &Node{cfg: NodeConfig{ID: "a", Dir: link, Logf: t.Logf, setAsideStep: func(step string) error {
		if step == "move checkpoints" {
			return errCrash
		}
		return nil
	}}}
	if err := viaLink.setAside("test", nil); !errors.Is(err, errCrash) {
		t.Fatalf("set-aside stopped before its move of checkpoints/: %v", err)
	}
	viaDir := &Node{cfg: NodeConfig{ID: "a", Dir: dir, Logf: t.Logf}}
	if err := viaDir.finishSetAside(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), setAsidePartSuffix) {
			t.Fatalf("a set-aside begun through %s and finished through %s: %s left", link, dir, e.Name())
		}
	}
	asides, err := SetAsideDirs(dir)
	if err != nil || len(asides) != 1 {
		t.Fatalf("set aside beside %s: %v (%v), want one", dir, asides, err)
	}
	if d := sameTree(busTree(t, asides[0]), want); d != "" {
		t.Fatalf("the bus is not whole in %s: it %s", asides[0], d)
	}
	if holdsBusDirs(dir) {
		t.Fatalf("%s set aside, and %s still holds bus directories", asides[0], dir)
	}
	viaLinkList, err := SetAsideDirs(link)
	if err != nil || len(viaLinkList) != 1 || viaLinkList[0] != asides[0] {
		t.Fatalf("set aside beside %s: %v (%v); beside %s: %v", link, viaLinkList, err, dir, asides)
	}
	// One set aside beside the link by a node built before (its own
	// spelling) is still listed through the link, oldest first.
	old := filepath.Join(parent, "link"+setAsidePrefix+"1")
	if err := os.Mkdir(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := SetAsideDirs(link); err != nil || len(got) != 2 || got[0] != old || got[1] != asides[0] {
		t.Fatalf("set aside beside %s: %v (%v); want [%s %s]", link, got, err, old, asides[0])
	}
}
