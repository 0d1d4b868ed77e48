package replicate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// errCrash is what the setAsideStep hook of these tests returns: the
// set-aside stops there, as if the process had been killed.
var errCrash = errors.New("crash (test)")

// busTree returns every file under dir's bus directories (busDirs), by
// path relative to dir, with its bytes.
func busTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	for _, sub := range busDirs {
		root := filepath.Join(dir, sub)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			tree[rel] = string(b)
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return tree
}

// copyTree copies the directory from into to (made), files and
// subdirectories.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sameTree reports how got differs from want ("" when it does not).
func sameTree(got, want map[string]string) string {
	for p, b := range want {
		g, ok := got[p]
		if !ok {
			return "lacks " + p
		}
		if g != b {
			return "holds other bytes in " + p
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			return "holds " + p + ", which the bus did not"
		}
	}
	return ""
}

// TestSetAsideCrashAtEveryStep: a set-aside of a bus directory (a log
// and a checkpoint) is stopped before each of its changes in turn, as a
// crash would stop it, and so is the finishing of it at the next use of
// the directory (finishSetAside, which openFollower runs under the lock
// before it looks at the directory), before each of its changes; then
// the directory is used again without a crash. Every such history must
// end with the bus whole in one place: either in DIR, byte for byte as
// it was, with no directory set aside, or in one DIR.diverged-*, byte for
// byte, opening at the bus's LSN and state hash, with none of it left in
// DIR; and no DIR.diverged-*.part left. Until 2026-12-07 a crash between
// the moves of wal/ and checkpoints/ split the bus between DIR.diverged-*
// and DIR.
func TestSetAsideCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "src")
	bus, err := mmsb.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantLSN := bus.LastLSN()
	wantHash, err := bus.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	want := busTree(t, src)
	if len(want) == 0 {
		t.Fatal("the bus left no files")
	}

	// crashAt returns a hook that stops before the change numbered at
	// (1, 2, …; 0: never), counting the changes it is asked about.
	crashAt := func(at int, steps *[]string) func(string) error {
		return func(step string) error {
			*steps = append(*steps, step)
			if len(*steps) == at {
				return errCrash
			}
			return nil
		}
	}
	cases, wholeInDir, wholeAside := 0, 0, 0
	for k := 1; ; k++ {
		var setSteps []string
		doneSetAside := false
		for j := 1; ; j++ {
			parent := t.TempDir()
			dir := filepath.Join(parent, "a")
			copyTree(t, src, dir)
			setSteps = setSteps[:0]
			n := &Node{cfg: NodeConfig{ID: "a", Dir: dir, Logf: t.Logf, setAsideStep: crashAt(k, &setSteps)}}
			err := n.setAside("test", nil)
			if err == nil {
				doneSetAside = true
			} else if !errors.Is(err, errCrash) {
				t.Fatalf("crash before change %d of the set-aside: %v", k, err)
			}
			// The next use of the directory, stopped before its change
			// j (when it has that many), then one more, not stopped.
			var finSteps []string
			n.cfg.setAsideStep = crashAt(j, &finSteps)
			err = n.finishSetAside()
			finished := err == nil
			if err != nil && !errors.Is(err, errCrash) {
				t.Fatalf("crash before change %d of the set-aside %v, then before change %d of its finishing: %v", k, setSteps, j, err)
			}
			n.cfg.setAsideStep = nil
			if err := n.finishSetAside(); err != nil {
				t.Fatal(err)
			}
			when := fmt.Sprintf("crash before change %d of the set-aside (changes %q), then before change %d of its finishing (changes %q)", k, setSteps, j, finSteps)
			cases++
			ents, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), setAsidePartSuffix) {
					t.Fatalf("%s: %s left", when, e.Name())
				}
			}
			asides, err := SetAsideDirs(dir)
			if err != nil {
				t.Fatal(err)
			}
			inDir := busTree(t, dir)
			switch len(asides) {
			case 0:
				if d := sameTree(inDir, want); d != "" {
					t.Fatalf("%s: nothing set aside, and %s %s", when, dir, d)
				}
				wholeInDir++
			case 1:
				if len(inDir) != 0 || holdsBusDirs(dir) {
					t.Fatalf("%s: %s set aside, and %s still holds bus files %v", when, asides[0], dir, slices.Sorted(maps.Keys(inDir)))
				}
				if d := sameTree(busTree(t, asides[0]), want); d != "" {
					t.Fatalf("%s: the bus is not whole in %s: it %s (left in %s: %v)", when, asides[0], d, dir, slices.Sorted(maps.Keys(inDir)))
				}
				b, err := mmsb.Open(asides[0], nil)
				if err != nil {
					t.Fatalf("%s: open %s: %v", when, asides[0], err)
				}
				lsn := b.LastLSN()
				h, herr := b.StateHash()
				if err := b.Close(); err != nil {
					t.Fatal(err)
				}
				if herr != nil || lsn != wantLSN || h != wantHash {
					t.Fatalf("%s: %s opens at LSN %d, hash %x (%v); want LSN %d, hash %x", when, asides[0], lsn, h, herr, wantLSN, wantHash)
				}
				wholeAside++
			default:
				t.Fatalf("%s: %d directories set aside (%v): the bus is split", when, len(asides), asides)
			}
			if finished {
				break // j ran past the finishing's changes
			}
		}
		if doneSetAside {
			break // k ran past the set-aside's changes
		}
		if k > 20 {
			t.Fatal("the set-aside never ran to its end")
		}
	}
	if wholeInDir == 0 || wholeAside == 0 {
		t.Fatalf("%d histories, %d with the bus back in DIR and %d with it aside: both ends were not reached", cases, wholeInDir, wholeAside)
	}
	t.Logf("%d histories: %d with the bus back in DIR, %d with it whole aside", cases, wholeInDir, wholeAside)
}

// TestNodeFinishesInterruptedSetAside: a follower's set-aside was
// interrupted after it moved wal/ into DIR.diverged-<ns>.part (a crash),
// leaving checkpoints/ in DIR. At its next start the node finishes it
// before it looks at DIR: one directory set aside, holding the old bus
// byte for byte, none left under .part, and the node rebuilt from the
// stream, at the leader's state. Before, the part was never finished and
// DIR (checkpoints without their log) was set aside on its own as lost
// files: the old bus split in two.
func TestNodeFinishesInterruptedSetAside(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "a", Dir: filepath.Join(parent, "a")})
	_, lb := waitLeader(t, a)
	if _, err := load(ctx, lb, createPages(t, lb, 2), 1, 3, 2); err != nil {
		t.Fatal(err)
	}
	// f's directory: a bus of its own (not a prefix of the stream),
	// marked as a replica of it.
	fdir := filepath.Join(parent, "f")
	bus, err := mmsb.Open(fdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	if err := saveMarker(fdir, testConfig(1).StreamName()); err != nil {
		t.Fatal(err)
	}
	want := busTree(t, fdir)
	// The set-aside, stopped after its move of wal/ (before that of
	// checkpoints/), as a crash would stop it.
	crashed := &Node{cfg: NodeConfig{ID: "f", Dir: fdir, Logf: t.Logf, setAsideStep: func(step string) error {
		if step == "move checkpoints" {
			return errCrash
		}
		return nil
	}}}
	if err := crashed.setAside("test", nil); !errors.Is(err, errCrash) {
		t.Fatalf("set-aside stopped before its move of checkpoints/: %v", err)
	}
	parts, err := setAsideParts(fdir)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || !holdsBusDirs(parts[0]) || !holdsBusDirs(fdir) {
		t.Fatalf("parts %v: not the case under test (one holding wal/, the rest in %s)", parts, fdir)
	}
	part := parts[0]
	logs := &logLines{t: t}
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: fdir, FollowOnly: true, Logf: logs.logf})
	fb := waitApplied(t, f, lb.LastLSN())
	if stateHash(t, fb) != stateHash(t, lb) {
		t.Fatalf("node f at LSN %d, state %x; want the leader's state %x", fb.LastLSN(), stateHash(t, fb), stateHash(t, lb))
	}
	f.stop()
	asides, err := SetAsideDirs(fdir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(part); !errors.Is(err, os.ErrNotExist) || len(asides) != 1 {
		t.Fatalf("after the node's start: %s still there (%v); set aside: %v, want one", part, err, asides)
	}
	if d := sameTree(busTree(t, asides[0]), want); d != "" {
		t.Fatalf("the old bus is not whole in %s: it %s", asides[0], d)
	}
	if logs.count("was interrupted: finished it") != 1 {
		t.Fatal("no line says the interrupted set-aside was finished")
	}
}

// TestFinishSetAsideLeavesNewBusInDir: a set-aside was interrupted after
// its move of wal/ (a crash); before the node ran again, an operator
// moved what was left in DIR away and a command made a new bus there (a log
// and a checkpoint of its own). The node's finishing of the set-aside
// takes nothing of the new bus: DIR holds it byte for byte, and the
// set-aside holds the old wal/ alone, with a line saying it is not whole.
// Before, everything the part lacked was taken from DIR: the new bus's
// checkpoints/ went into the old bus's set-aside, splitting both.
func TestFinishSetAsideLeavesNewBusInDir(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	// mkBus makes a bus in dir with a checkpoint and a record after it.
	mkBus := func(size int) {
		t.Helper()
		bus, err := mmsb.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: size}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{7})}); err != nil {
			t.Fatal(err)
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
	mkBus(64)
	oldWal := busTree(t, dir)
	for p := range oldWal {
		if !strings.HasPrefix(p, "wal"+string(filepath.Separator)) {
			delete(oldWal, p)
		}
	}
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
	// The operator moves the rest away (kept: the new directories
	// cannot reuse its inode numbers).
	for _, sub := range busDirs {
		err := os.Rename(filepath.Join(dir, sub), filepath.Join(parent, "moved-"+sub))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	mkBus(32)
	newBus := busTree(t, dir)
	n.cfg.setAsideStep = nil
	if err := n.finishSetAside(); err != nil {
		t.Fatal(err)
	}
	if d := sameTree(busTree(t, dir), newBus); d != "" {
		t.Fatalf("after the finishing of an interrupted set-aside, the bus made in %s since: %s %s", dir, dir, d)
	}
	asides, err := SetAsideDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(asides) != 1 {
		t.Fatalf("set aside: %v, want one", asides)
	}
	if d := sameTree(busTree(t, asides[0]), oldWal); d != "" {
		t.Fatalf("the set-aside %s is not the old bus's wal/: it %s", asides[0], d)
	}
	if logs.count("but not whole: checkpoints/ in") != 1 {
		t.Fatal("no line says the set-aside is not whole")
	}
}
