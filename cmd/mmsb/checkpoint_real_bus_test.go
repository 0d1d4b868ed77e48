package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckpointAcceptsEveryRealBus: the refusal of a directory in which
// no bus ran (TestCheckpointRefusesDirectoryWithoutBus) must not refuse a
// directory that mmsb.Open made, whatever that bus did since: each row
// opens a bus with the library first, shapes it, and runs `mmsb
// checkpoint` on it, which must not say "no bus ran there".
func TestCheckpointAcceptsEveryRealBus(t *testing.T) {
	for _, kind := range realBusKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir := kind.make(t)
			r := runCLI(t, "checkpoint", dir)
			if strings.Contains(r.stderr, "no bus ran there") {
				t.Fatalf("a bus made by mmsb.Open refused as no bus (exit %d):\n%s\nfiles: %q", r.code, r.stderr, listTree(t, dir))
			}
		})
	}
}

// realBusKind is a directory that mmsb.Open made, shaped as a bus can be
// since: make returns it (closed).
type realBusKind struct {
	name string
	make func(t *testing.T) string
}

// realBusKinds are the kinds of real bus that the refusals of a
// directory in which no bus ran (requireBusFiles, requireBusDirToWrite)
// must accept.
var realBusKinds = func() []realBusKind {
	ctx := context.Background()
	// removeAll removes every file in DIR/sub whose name passes keep false.
	removeAll := func(t *testing.T, dir, sub string, keep func(string) bool) {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !keep(e.Name()) {
				if err := os.RemoveAll(filepath.Join(dir, sub, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var kinds []realBusKind
	for _, tc := range []struct {
		name  string
		opts  *mmsb.Options
		shape func(t *testing.T, bus *mmsb.Bus) // runs on the open bus
		after func(t *testing.T, dir string)    // runs on DIR once the bus is closed
	}{
		{name: "created pages and checkpointed", shape: func(t *testing.T, bus *mmsb.Bus) {
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "log trimmed to nothing", shape: func(t *testing.T, bus *mmsb.Bus) {
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}, after: func(t *testing.T, dir string) {
			removeAll(t, dir, "wal", func(string) bool { return false })
		}},
		{name: "opened without a log", opts: &mmsb.Options{DisableLog: true}},
		{name: "opened without a log, checkpointed", opts: &mmsb.Options{DisableLog: true}, shape: func(t *testing.T, bus *mmsb.Bus) {
			if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
				t.Fatal(err)
			}
			if _, err := bus.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "only checkpoints/log-mode", opts: &mmsb.Options{DisableLog: true}, after: func(t *testing.T, dir string) {
			removeAll(t, dir, ".", func(n string) bool { return n == "checkpoints" })
			removeAll(t, dir, "checkpoints", func(n string) bool { return n == "log-mode" })
		}},
		{name: "never committed"},
		{name: "a follower's directory (replica marker)", after: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "replicate-stream"), []byte("mmsb-replica MMSB_LOG_mmsb\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		kinds = append(kinds, realBusKind{tc.name, func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "data")
			bus, err := mmsb.Open(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.shape != nil {
				tc.shape(t, bus)
			}
			if err := bus.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.after != nil {
				tc.after(t, dir)
			}
			return dir
		}})
	}
	return kinds
}()
