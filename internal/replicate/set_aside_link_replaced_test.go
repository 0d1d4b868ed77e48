package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestFinishSetAsideFindsPartOfReplacedLink: a set-aside begun by a node
// given a symbolic link to its directory (its part beside the link's
// target) is interrupted after its move of wal/ (a crash); the operator
// then replaces the link by the directory itself (rm link; mv target
// link). The next node given the directory finishes the set-aside: the
// old bus is whole in one set-aside beside the directory, nothing of it
// is left in the directory, and no .part is left anywhere. Until
// 2026-12-07 the part beside the old target was never looked at: it kept
// wal/, and the directory's checkpoints/ were later set aside on their
// own as lost files.
func TestFinishSetAsideFindsPartOfReplacedLink(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	target, link := filepath.Join(parent, "target"), filepath.Join(parent, "link")
	bus, err := mmsb.Open(target, nil)
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
	want := busTree(t, target)
	if err := os.Symlink("target", link); err != nil {
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
	// The link replaced by the directory it named.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(target, link); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	n := &Node{cfg: NodeConfig{ID: "a", Dir: link, Logf: logs.logf}}
	if err := n.finishSetAside(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), setAsidePartSuffix) {
			t.Fatalf("a set-aside begun through the link %s, which was then replaced by its target: %s left", link, e.Name())
		}
	}
	asides, err := SetAsideDirs(link)
	if err != nil || len(asides) != 1 {
		t.Fatalf("set aside beside %s: %v (%v), want one", link, asides, err)
	}
	if d := sameTree(busTree(t, asides[0]), want); d != "" {
		t.Fatalf("the bus is not whole in %s: it %s", asides[0], d)
	}
	if holdsBusDirs(link) {
		t.Fatalf("%s set aside, and %s still holds bus directories", asides[0], link)
	}
	if logs.count("was interrupted: moved its") != 1 {
		t.Fatal("no line says the part was moved beside the directory")
	}
}
