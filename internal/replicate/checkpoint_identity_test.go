package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestHoldsNewestCheckpointReadsOnlySameSize: on a stream that holds no
// records, a bus at the newest stored checkpoint's LSN is taken when its
// directory holds that checkpoint's file, byte for byte. The local file
// was hashed whole (SHA-256, possibly GiB) at every such start; a file
// whose size is not the object's is not it, and is not read now. A file
// of the same size is still hashed, and one byte changed is not taken.
func TestHoldsNewestCheckpointReadsOnlySameSize(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	a, ckpt := leadWithStoredCheckpoint(t, c, parent, t.Logf)
	res := a.res
	a.stop()
	dir := filepath.Join(parent, "a")
	path := filepath.Join(dir, "checkpoints", fmt.Sprintf("checkpoint-%020d.ckpt", ckpt))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the leader's own checkpoint file: %v", err)
	}
	bus, err := mmsb.Open(dir, &mmsb.Options{Follower: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	if bus.LastLSN() != ckpt {
		t.Fatalf("bus at LSN %d, want the checkpoint's %d", bus.LastLSN(), ckpt)
	}
	reads := 0
	saved := checkpointDigest
	checkpointDigest = func(p string) (string, error) { reads++; return saved(p) }
	t.Cleanup(func() { checkpointDigest = saved })
	f := newFollower(bus, res, &Metrics{})

	check := func(name string, content []byte, want bool, wantReads int) {
		t.Helper()
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		reads = 0
		got, err := f.holdsNewestCheckpoint(ctx, ckpt)
		if err != nil || got != want || reads != wantReads {
			t.Errorf("%s: holdsNewestCheckpoint = %v, %v with %d file(s) hashed; want %v, nil with %d", name, got, err, reads, want, wantReads)
		}
	}
	check("the stored file", orig, true, 1)
	flipped := append([]byte(nil), orig...)
	flipped[len(flipped)/2] ^= 1
	check("one byte changed", flipped, false, 1)
	check("one byte longer", append(append([]byte(nil), orig...), 0), false, 0)
	check("one byte shorter", orig[:len(orig)-1], false, 0)
	check("the stored file again", orig, true, 1)
}
