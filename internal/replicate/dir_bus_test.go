package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeRefusesDirectoryOfAnotherBus: a node started on a directory
// that holds a replica of another bus (its term file names that bus's
// stream: a mistyped --stream or --bus) is refused with ErrConfig naming
// both streams, and the directory is left as it was. Before, NewNode took
// it and Run found it "not a prefix" of this bus's stream: it moved the
// replica aside and rebuilt the directory as a replica of the other bus.
// The same directory under its own bus's name is taken.
func TestNodeRefusesDirectoryOfAnotherBus(t *testing.T) {
	ctx := context.Background()
	c := startTestCluster(t, 1)
	parent := t.TempDir()
	dir := filepath.Join(parent, "a")
	cfg := testConfig(1)
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", Dir: dir, CheckpointEvery: -1})
	_, bus := waitLeader(t, a)
	createPages(t, bus, 2)
	a.stop()

	for _, tc := range []struct {
		bus     string
		refused bool
	}{
		{"other", true},
		{cfg.Bus, false},
	} {
		other := cfg
		other.Bus = tc.bus
		n, err := NewNode(ctx, NodeConfig{Config: other, ID: "a", Dir: dir, Conn: connect(t, c.URL())})
		switch {
		case tc.refused && !errors.Is(err, ErrConfig):
			t.Fatalf("bus %q on a directory of bus %q: NewNode = %v, want ErrConfig", tc.bus, cfg.Bus, err)
		case tc.refused && (!strings.Contains(err.Error(), "MMSB_LOG_"+cfg.Bus) || !strings.Contains(err.Error(), "MMSB_LOG_"+tc.bus)):
			t.Fatalf("refusal %q does not name both streams", err)
		case !tc.refused && (err != nil || n == nil):
			t.Fatalf("bus %q on its own directory: NewNode = %v", tc.bus, err)
		}
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !hasState(dir) {
		t.Fatalf("after the refusal: %d entries beside the directory, state kept %v; want it untouched", len(ents), hasState(dir))
	}
}
