package replicate

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// dirListing maps every file under dir to its size.
func dirListing(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSecondNodeOnABootstrappingDirectoryIsLocked: two nodes started at
// once on one empty directory. The first, paused after it found the
// directory empty and before it bootstraps, holds the directory's lock:
// the second's Run returns mmsb.ErrLocked and changes nothing in it. The
// lock was taken only by the bus's Open, after the bootstrap: both nodes
// found the directory empty and both downloaded the stored checkpoint
// into it (the same temporary file, each removing the other's part
// first). The first then bootstraps and follows from the checkpoint.
func TestSecondNodeOnABootstrappingDirectoryIsLocked(t *testing.T) {
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	_, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	dir := filepath.Join(parent, "b")

	paused, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	resume := func() { once.Do(func() { close(release) }) }
	first := startNode(t, c, NodeConfig{Config: testConfig(1), ID: "first", Dir: dir, FollowOnly: true,
		beforeBootstrap: func() {
			select {
			case <-paused: // a later bootstrap: not paused
				return
			default:
			}
			close(paused)
			<-release
		}})
	t.Cleanup(resume) // before first's stop (cleanups run last first)
	select {
	case <-paused:
	case <-time.After(60 * time.Second):
		t.Fatal("the first node did not reach its bootstrap within 60 s")
	}
	before := dirListing(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	roled := make(chan mmsb.LSN, 1) // the LSN of a bus the second node opened
	second, err := NewNode(ctx, NodeConfig{Config: testConfig(1), ID: "second", Dir: dir, FollowOnly: true,
		Conn: connect(t, c.URL()), Logf: t.Logf,
		OnRole: func(bus *mmsb.Bus, _ bool) {
			if bus != nil {
				select {
				case roled <- bus.LastLSN():
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, mmsb.ErrLocked) {
			t.Fatalf("the second node's Run = %v, want mmsb.ErrLocked", err)
		}
	case lsn := <-roled:
		cancel()
		<-done
		t.Fatalf("the second node opened the directory (bus at LSN %d) while the first was about to bootstrap into it", lsn)
	case <-ctx.Done():
		t.Fatal("the second node's Run neither ended nor took a role within 60 s")
	}
	after := dirListing(t, dir)
	if len(after) != len(before) {
		t.Errorf("the refused node changed the directory: files %v, were %v", after, before)
	}
	for name, size := range before {
		if got, ok := after[name]; !ok || got != size {
			t.Errorf("the refused node changed the directory: %s is %d bytes (there: %v), was %d", name, got, ok, size)
		}
	}

	resume()
	if b := waitApplied(t, first, ckpt); b.LastLSN() < ckpt {
		t.Fatalf("first node at LSN %d, want %d", b.LastLSN(), ckpt)
	}
}
