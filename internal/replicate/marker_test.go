package replicate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// standaloneBus makes a bus in dir as mmsb.Open does, outside any node,
// and returns its last LSN.
func standaloneBus(t *testing.T, dir string) mmsb.LSN {
	t.Helper()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	createPages(t, bus, 2)
	lsn := bus.LastLSN()
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// newNodeOn runs NewNode for bus on dir (no Run).
func newNodeOn(t *testing.T, c *Cluster, bus, dir string, followOnly bool) (*Node, error) {
	t.Helper()
	cfg := testConfig(1)
	cfg.Bus = bus
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return NewNode(ctx, NodeConfig{Config: cfg, ID: "n", Dir: dir, Conn: connect(t, c.URL()), FollowOnly: followOnly})
}

// checkUntouched fails unless dir still holds the bus at lsn, without a
// marker, and nothing was set aside beside it.
func checkUntouched(t *testing.T, dir string, lsn mmsb.LSN) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, markerFile)); !os.IsNotExist(err) {
		t.Errorf("a refused directory was marked (stat %v)", err)
	}
	if n := divergedDirs(t, filepath.Dir(dir)); n != 0 {
		t.Errorf("%d directories set aside beside %s, want none", n, dir)
	}
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatalf("the refused directory does not open: %v", err)
	}
	defer func() { _ = bus.Close() }()
	if got := bus.LastLSN(); got != lsn {
		t.Errorf("the refused directory's bus is at LSN %d, want %d", got, lsn)
	}
}

// TestNodeRefusesStandaloneBus: a directory holding a bus that no node
// made (mmsb.Open, mmsb bench --dir), given to a node by mistake, is
// refused by NewNode with ErrConfig naming the directory and the stream,
// and left as it was. Before, NewNode took it and Run found it "not a
// prefix" of the stream: it moved the user's bus to DIR.diverged-* and
// started an empty replica in its place, saying only that in a log line.
func TestNodeRefusesStandaloneBus(t *testing.T) {
	c := startTestCluster(t, 1)
	for _, followOnly := range []bool{true, false} {
		dir := filepath.Join(t.TempDir(), "bus")
		lsn := standaloneBus(t, dir)
		_, err := newNodeOn(t, c, "t", dir, followOnly)
		switch {
		case !errors.Is(err, ErrConfig):
			t.Fatalf("follow-only %v: NewNode on a standalone bus = %v, want ErrConfig", followOnly, err)
		case !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), `not a replica of the stream "MMSB_LOG_t"`):
			t.Errorf("the refusal does not name the directory and the stream: %v", err)
		case !strings.Contains(err.Error(), "made before replicate-stream existed") || !strings.Contains(err.Error(), "emptied, it is bootstrapped again"):
			// A replica made before the marker with no term file is
			// refused the same way: the message says what to do with it.
			t.Errorf("the refusal does not say what to do with a replica made before the marker: %v", err)
		}
		checkUntouched(t, dir, lsn)
	}
}

// TestNodeRefusesMarkedReplicaOfAnotherStream: a directory whose marker
// names another bus's stream is refused (ErrConfig naming both streams)
// even without a term file (a node killed between its bootstrap and the
// first record it read), and taken under its own bus's name.
func TestNodeRefusesMarkedReplicaOfAnotherStream(t *testing.T) {
	c := startTestCluster(t, 1)
	dir := filepath.Join(t.TempDir(), "bus")
	standaloneBus(t, dir)
	// The marker's bytes as docs/replication.md gives them.
	if err := os.WriteFile(filepath.Join(dir, "replicate-stream"), []byte("mmsb-replica MMSB_LOG_t\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newNodeOn(t, c, "other", dir, true)
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("bus other on a replica of bus t: NewNode = %v, want ErrConfig", err)
	}
	if !strings.Contains(err.Error(), `"MMSB_LOG_t"`) || !strings.Contains(err.Error(), `"MMSB_LOG_other"`) {
		t.Errorf("the refusal does not name both streams: %v", err)
	}
	if _, err := newNodeOn(t, c, "t", dir, true); err != nil {
		t.Fatalf("bus t on its own replica without a term file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, markerFile)); err != nil || string(b) != "mmsb-replica MMSB_LOG_t\n" {
		t.Errorf("marker after both starts: %q, %v", b, err)
	}
}

// TestNodeMarksReplicaDirectory: NewNode marks a new directory before
// anything is in it, marks a replica made before the marker existed (it
// has a term file of this stream), and marks an empty directory of
// another stream for its own; a marker that does not parse is ErrConfig
// naming its file.
func TestNodeMarksReplicaDirectory(t *testing.T) {
	c := startTestCluster(t, 1)
	want := "mmsb-replica MMSB_LOG_t\n"
	marker := func(dir string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "replicate-stream"))
		return string(b)
	}

	fresh := filepath.Join(t.TempDir(), "new")
	if _, err := newNodeOn(t, c, "t", fresh, false); err != nil {
		t.Fatal(err)
	}
	if got := marker(fresh); got != want || hasState(fresh) {
		t.Errorf("a new directory after NewNode: marker %q, state %v; want %q and no state", got, hasState(fresh), want)
	}

	legacy := filepath.Join(t.TempDir(), "legacy")
	lsn := standaloneBus(t, legacy)
	if err := os.WriteFile(filepath.Join(legacy, termFile), []byte("MMSB_LOG_t@1 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newNodeOn(t, c, "t", legacy, true); err != nil {
		t.Fatalf("a replica with a term file and no marker: %v", err)
	}
	if got := marker(legacy); got != want {
		t.Errorf("a replica made before the marker: marker %q after NewNode, want %q", got, want)
	}
	if bus, err := mmsb.Open(legacy, nil); err != nil || bus.LastLSN() != lsn {
		t.Errorf("the replica's bus after NewNode: %v", err)
	} else {
		_ = bus.Close()
	}

	emptied := filepath.Join(t.TempDir(), "emptied")
	if err := os.MkdirAll(emptied, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(emptied, "replicate-stream"), []byte("mmsb-replica MMSB_LOG_other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(emptied, termFile), []byte("MMSB_LOG_other@1 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newNodeOn(t, c, "t", emptied, true); err != nil {
		t.Fatalf("a directory without bus state marked for another stream: %v", err)
	}
	if got := marker(emptied); got != want {
		t.Errorf("a directory without bus state: marker %q after NewNode, want %q", got, want)
	}
	// Bootstrapped, then killed before its first term replaced the other
	// stream's term file: the marker says whose replica it is.
	standaloneBus(t, emptied)
	if _, err := newNodeOn(t, c, "t", emptied, true); err != nil {
		t.Fatalf("a marked replica beside an old term file of another stream: %v", err)
	}

	for _, bad := range []string{"", "mmsb-replica MMSB_LOG_t", "mmsb-replica \n", "mmsb-replica MMSB_LOG_t x\n", "other MMSB_LOG_t\n", strings.Repeat("x", 1<<20)} {
		dir := filepath.Join(t.TempDir(), "damaged")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, markerFile), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := newNodeOn(t, c, "t", dir, true)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), filepath.Join(dir, markerFile)) || len(err.Error()) > 1000 {
			t.Errorf("marker %.40q: NewNode = %v, want ErrConfig naming the file", bad, err)
		}
	}
}
