package replicate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestFollowerRebuildsAfterDamagedStoredCheckpoint: the newest stored
// checkpoint object does not load (here replaced by bytes that are not a
// checkpoint; its digest matches them, so the download succeeds). A new
// follower says which object does not load and empties its directory;
// once the leader stores a newer checkpoint it bootstraps from that and
// follows. Before, the downloaded file stayed: the directory counted as
// a bus, and every later cycle failed to open it ("no checkpoint could be
// loaded"), for ever, the sound newer checkpoint never read.
func TestFollowerRebuildsAfterDamagedStoredCheckpoint(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(ckpt)}, bytes.NewReader(bytes.Repeat([]byte("not a checkpoint"), 64))); err != nil {
		t.Fatal(err)
	}
	logs := &logLines{t: t}
	dir := filepath.Join(parent, "f")
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: dir, FollowOnly: true, Logf: logs.logf})
	want := fmt.Sprintf("the stored checkpoint at LSN %d (object %s in MMSB_CKPT_t) does not load; emptied ", ckpt, ckptObjectName(ckpt))
	waitFor(t, "the damaged checkpoint named", func() bool { return logs.count(want) > 0 })

	// The leader stores a newer checkpoint (CheckpointEvery 1).
	bus := a.Leader()
	pages := createPages(t, bus, 1)
	if _, err := load(ctx, bus, pages, 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	fb := waitApplied(t, f, bus.LastLSN())
	if stateHash(t, fb) != stateHash(t, bus) {
		t.Fatal("the rebuilt follower differs from the leader")
	}
}
