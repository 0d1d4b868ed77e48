package replicate

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
)

// objectsStore is an object store holding the named objects' bytes.
type objectsStore struct {
	jetstream.ObjectStore // the methods bootstrap does not call: nil
	objects               map[string][]byte
}

func (s *objectsStore) List(context.Context, ...jetstream.ListObjectsOpt) ([]*jetstream.ObjectInfo, error) {
	var infos []*jetstream.ObjectInfo
	for name := range s.objects {
		infos = append(infos, &jetstream.ObjectInfo{ObjectMeta: jetstream.ObjectMeta{Name: name}})
	}
	return infos, nil
}

func (s *objectsStore) GetFile(_ context.Context, name, file string, _ ...jetstream.GetObjectOpt) error {
	b, ok := s.objects[name]
	if !ok {
		return jetstream.ErrObjectNotFound
	}
	return os.WriteFile(file, b, 0o600)
}

// TestBootstrapSkipsDamagedCheckpoints: bootstrap takes the newest stored
// checkpoint that is whole and at its object's LSN: the newest here holds
// a whole checkpoint of another LSN (restored under the wrong name), the
// next one is cut short, the third is sound. With none sound it fails
// with ErrNeedBootstrap naming each, and leaves nothing. Before, only the
// newest was downloaded, and kept whatever it held.
func TestBootstrapSkipsDamagedCheckpoints(t *testing.T) {
	whole := func(lsn mmsb.LSN) []byte {
		b, err := wholeCheckpoint(lsn)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	store := &objectsStore{objects: map[string][]byte{
		ckptObjectName(9): whole(5),
		ckptObjectName(8): whole(8)[:40],
		ckptObjectName(7): whole(7),
	}}
	r := &resources{cfg: Config{Bus: "b", AckTimeout: 5 * time.Second}, ckpts: store}
	dir := t.TempDir()
	if lsn, err := bootstrap(context.Background(), r, dir); err != nil || lsn != 7 {
		t.Fatalf("bootstrap = %d, %v; want 7, nil", lsn, err)
	}
	if hasStateBesides(dir, ckptFileName(7)) {
		t.Fatal("the skipped checkpoints left files behind")
	}

	delete(store.objects, ckptObjectName(7))
	dir = t.TempDir()
	_, err := bootstrap(context.Background(), r, dir)
	if !errors.Is(err, ErrNeedBootstrap) {
		t.Fatalf("bootstrap with no sound checkpoint: %v, want ErrNeedBootstrap", err)
	}
	for _, want := range []string{"LSN 9 (object " + ckptObjectName(9), "header says LSN 5", "LSN 8 (object " + ckptObjectName(8)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("bootstrap's error %q does not say %q", err, want)
		}
	}
	if hasState(dir) {
		t.Fatal("a failed bootstrap left files behind")
	}
}
