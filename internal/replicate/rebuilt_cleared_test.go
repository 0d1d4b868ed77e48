package replicate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRebuiltDirectoryWrittenMeanwhileIsSetAside: a follower rebuilt its
// directory from a stored checkpoint that does not load, and lets go of
// the directory's lock before it empties it. A writer that takes the
// directory in between (here: it drops the bad checkpoint, opens a bus
// there and commits) leaves committed records in it. The follower sets
// that directory aside, records whole, instead of emptying it: before, it
// emptied it on the strength of its look before Open, and the records
// were gone.
func TestRebuiltDirectoryWrittenMeanwhileIsSetAside(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	// Whole, so that the bootstrap keeps it, and refused by the bus's
	// open.
	if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(ckpt)}, bytes.NewReader(unloadableCheckpoint(t, ckpt))); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "f")
	var once sync.Once
	wrote := make(chan error, 1)
	var committed mmsb.LSN
	other := func() error {
		// Another writer: the directory without the bad checkpoint is
		// a bus with an empty log, which it opens and commits to.
		if err := os.Remove(filepath.Join(dir, "checkpoints", ckptFileName(ckpt))); err != nil {
			return err
		}
		bus, err := mmsb.Open(dir, &mmsb.Options{})
		if err != nil {
			return err
		}
		if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}}); err != nil {
			_ = bus.Close()
			return err
		}
		committed = bus.LastLSN()
		return bus.Close()
	}
	logs := &logLines{t: t}
	startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: dir, FollowOnly: true, Logf: logs.logf,
		beforeChangeDir: func() { once.Do(func() { wrote <- other() }) }})
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if committed == 0 {
		t.Fatal("the other writer committed nothing")
	}
	waitFor(t, "the role ended", func() bool { return logs.count("does not load") > 0 })
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var aside string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "f.diverged-") {
			aside = filepath.Join(parent, e.Name())
		}
	}
	if aside == "" {
		t.Fatalf("no f.diverged-* in %s: the records committed in %s were removed", parent, dir)
	}
	bus, err := mmsb.Open(aside, &mmsb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bus.Close() }()
	if got := bus.LastLSN(); got != committed {
		t.Fatalf("the set-aside directory %s is at LSN %d, want the other writer's %d", aside, got, committed)
	}
}
