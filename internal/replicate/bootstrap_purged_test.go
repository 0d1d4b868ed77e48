package replicate

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// TestOlderCheckpointOnPurgedStreamIsNotLed: of two kept checkpoints the
// newest is damaged, so a new node bootstraps from the older one, which
// the stream continues when the bootstrap looks; an operator then purges
// the stream before the node's position check. The node must not take
// the older state against the empty stream: led from there, the history
// restarted below the newest stored checkpoint, and the acknowledged
// commits between the two were gone from it. It ends the role with
// ErrNeedBootstrap naming both LSNs instead (the newest is damaged, so
// no node can lead until an operator acts). Before, position accepted
// any directory just rebuilt from a stored checkpoint on an empty
// stream, and the node led at the older checkpoint's LSN.
func TestOlderCheckpointOnPurgedStreamIsNotLed(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, _ := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	bus := a.Leader()
	if _, err := load(ctx, bus, createPages(t, bus, 1), 1, 2, 1); err != nil {
		t.Fatal(err)
	}
	var lsns []mmsb.LSN
	waitFor(t, "two checkpoints stored, the newest at the leader's LSN", func() bool {
		var err error
		if lsns, err = a.res.checkpointObjects(ctx); err != nil {
			t.Fatal(err)
		}
		return len(lsns) == 2 && lsns[1] == bus.LastLSN()
	})
	older, newest := lsns[0], lsns[1]
	if _, err := a.res.ckpts.Put(ctx, jetstream.ObjectMeta{Name: ckptObjectName(newest)}, bytes.NewReader(bytes.Repeat([]byte("not a checkpoint"), 64))); err != nil {
		t.Fatal(err)
	}
	a.stop() // nothing publishes from here on; its lease is let go

	var once sync.Once
	purged := make(chan mmsb.LSN, 1)
	logs := &logLines{t: t}
	f := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "f", Dir: filepath.Join(parent, "f"), Logf: logs.logf,
		beforePosition: func(from mmsb.LSN) {
			once.Do(func() {
				if err := a.res.stream.Purge(ctx); err != nil {
					t.Error(err)
				}
				purged <- from
			})
		}})
	want := fmt.Sprintf("the local bus is at LSN %d (rebuilt from the stored checkpoint there), the newest stored checkpoint at LSN %d", older, newest)
	waitFor(t, "the role ended on the purged stream", func() bool {
		if lb := f.Leader(); lb != nil {
			t.Fatalf("node f leads at LSN %d, below the newest stored checkpoint at LSN %d: the acknowledged commits after LSN %d are gone from the history", lb.LastLSN(), newest, lb.LastLSN())
		}
		return logs.count(want) > 0
	})
	if from := <-purged; from != older {
		t.Fatalf("the stream was purged after a bootstrap from the checkpoint at LSN %d, want the older one's %d (the case under test)", from, older)
	}
	// The next cycles find the empty stream and only the damaged newest
	// checkpoint: still no role.
	waitFor(t, "a later cycle refused", func() bool {
		if lb := f.Leader(); lb != nil {
			t.Fatalf("node f leads at LSN %d, below the newest stored checkpoint at LSN %d", lb.LastLSN(), newest)
		}
		return logs.count("no stored checkpoint that the stream continues is whole") > 0
	})
	if lb := f.Leader(); lb != nil {
		t.Fatalf("node f leads at LSN %d, below the newest stored checkpoint at LSN %d", lb.LastLSN(), newest)
	}
}
