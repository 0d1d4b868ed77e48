package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
)

// partialStore is an object store holding one checkpoint whose download
// fails after writing part of the file, as jetstream's GetFile does when
// the copy is cut short (a server gone, a timeout, a digest mismatch).
// Downloads that do not fail write whole, a checkpoint at LSN 7.
type partialStore struct {
	jetstream.ObjectStore // the methods bootstrap does not call: nil
	failAt                string
}

// wholeCheckpoint returns the bytes of an empty checkpoint at lsn.
func wholeCheckpoint(lsn mmsb.LSN) ([]byte, error) {
	dir, err := os.MkdirTemp("", "ckpt")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	w, err := checkpoint.Create(nil, dir, lsn)
	if err != nil {
		return nil, err
	}
	path, err := w.Commit()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

func (s *partialStore) List(context.Context, ...jetstream.ListObjectsOpt) ([]*jetstream.ObjectInfo, error) {
	return []*jetstream.ObjectInfo{{ObjectMeta: jetstream.ObjectMeta{Name: ckptObjectName(7)}}}, nil
}

func (s *partialStore) GetFile(_ context.Context, _, file string, _ ...jetstream.GetObjectOpt) error {
	if err := os.WriteFile(file, []byte("the first part of a checkpoint"), 0o600); err != nil {
		return err
	}
	if s.failAt == "download" {
		return errors.New("digest mismatch")
	}
	whole, err := wholeCheckpoint(7)
	if err != nil {
		return err
	}
	return os.WriteFile(file, whole, 0o600)
}

// TestBootstrapLeavesNoPartialCheckpoint: a bootstrap whose download or
// rename fails leaves no file behind. The part left in DIR/checkpoints made
// the directory look like a bus (hasState), so the node's next attempt
// opened an empty bus instead of bootstrapping again, and then set the
// directory aside as diverged.
func TestBootstrapLeavesNoPartialCheckpoint(t *testing.T) {
	tests := []struct {
		name  string
		store *partialStore
		setup func(t *testing.T, dir string) // makes the step it names fail
	}{
		{name: "download cut short", store: &partialStore{failAt: "download"}},
		{name: "rename refused", store: &partialStore{}, setup: func(t *testing.T, dir string) {
			// A directory where the checkpoint goes: rename over it fails.
			if err := os.MkdirAll(filepath.Join(dir, "checkpoints", "checkpoint-00000000000000000007.ckpt", "x"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			r := &resources{cfg: Config{Bus: "b", AckTimeout: 5 * time.Second}, ckpts: tc.store}
			if _, err := bootstrap(context.Background(), r, dir); err == nil {
				t.Fatal("bootstrap succeeded, want the failure")
			}
			tmp := filepath.Join(dir, "checkpoints", "checkpoint-00000000000000000007.ckpt.tmp")
			if _, err := os.Stat(tmp); !os.IsNotExist(err) {
				t.Fatalf("after a failed bootstrap %s is there (stat: %v), want it removed", tmp, err)
			}
			if tc.setup == nil && hasState(dir) {
				t.Fatal("after a failed bootstrap the directory looks like a bus (hasState)")
			}
		})
	}
	// The control: a download that succeeds leaves the checkpoint.
	dir := t.TempDir()
	r := &resources{cfg: Config{Bus: "b", AckTimeout: 5 * time.Second}, ckpts: &partialStore{}}
	if lsn, err := bootstrap(context.Background(), r, dir); err != nil || lsn != 7 {
		t.Fatalf("bootstrap = %d, %v; want 7, nil", lsn, err)
	}
	if !hasState(dir) {
		t.Fatal("a completed bootstrap left no checkpoint")
	}
}
