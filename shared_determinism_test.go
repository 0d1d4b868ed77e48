package mmsb

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSharedCheckpointAndLogBytesMatchPrivate: shared mode is where page
// bytes live, never what the bus records. A private bus and shared buses
// (pre-faulted and lazy) get the same seeded creates (small pages and
// pages with a chunk of their own), frees and delta batches, are closed
// and reopened midway (the shared ones then build a new region, with a
// new generation, and recover into it), and take a checkpoint: every
// log segment and the checkpoint file are byte for byte the private
// bus's, and so are the state hashes after every step. The region's
// layout (generation, chunk files, slot arrays, writer PID) must not
// leak into either.
func TestSharedCheckpointAndLogBytesMatchPrivate(t *testing.T) {
	shm := scratchShmDir(t)
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			type member struct {
				name string
				dir  string
				opts Options
				bus  *Bus
			}
			members := []*member{{name: "private", dir: t.TempDir()}}
			for _, p := range memoryPolicies[:2] { // default and lazy
				o := p.opts
				o.Shared, o.SharedDir = true, shm
				members = append(members, &member{name: "shared-" + p.name, dir: t.TempDir(), opts: o})
			}
			open := func() {
				for _, m := range members {
					o := m.opts
					o.Sync, o.Clock = SyncNone, testClock()
					b, err := Open(m.dir, &o)
					if err != nil {
						t.Fatalf("%s: open: %v", m.name, err)
					}
					m.bus = b
				}
			}
			closeAll := func() {
				for _, m := range members {
					if err := m.bus.Close(); err != nil {
						t.Fatalf("%s: close: %v", m.name, err)
					}
				}
			}
			open()
			defer func() {
				for _, m := range members {
					_ = m.bus.Close()
				}
			}()
			var live []PageID
			for step := range 60 {
				if step == 30 {
					closeAll()
					open()
				}
				apply, created := randomSharedStep(ctx, rng, &live, members[0].bus)
				var first []PageID // the private bus's new IDs
				for i, m := range members {
					if err := apply(m.bus); err != nil {
						t.Fatalf("%s: step %d: %v", m.name, step, err)
					}
					if i == 0 {
						first = *created
					} else if !slices.Equal(*created, first) {
						t.Fatalf("%s: step %d: created %v, private %v", m.name, step, *created, first)
					}
				}
				live = append(live, *created...)
				want := hashOf(t, members[0].bus)
				for _, m := range members[1:] {
					if got := hashOf(t, m.bus); got != want {
						t.Fatalf("step %d: %s state hash %x, private %x", step, m.name, got, want)
					}
				}
			}
			var ckpts [][]byte
			var ckptNames []string
			for _, m := range members {
				info, err := m.bus.Checkpoint(ctx)
				if err != nil {
					t.Fatalf("%s: checkpoint: %v", m.name, err)
				}
				b, err := os.ReadFile(info.Path)
				if err != nil {
					t.Fatal(err)
				}
				if len(ckptNames) > 0 && filepath.Base(info.Path) != filepath.Base(ckptNames[0]) {
					t.Errorf("%s: checkpoint %s, private %s", m.name, filepath.Base(info.Path), filepath.Base(ckptNames[0]))
				}
				ckptNames = append(ckptNames, info.Path)
				ckpts = append(ckpts, b)
			}
			for i, m := range members[1:] {
				if !bytes.Equal(ckpts[i+1], ckpts[0]) {
					t.Errorf("%s: checkpoint of %d bytes differs from the private bus's (%d bytes)", m.name, len(ckpts[i+1]), len(ckpts[0]))
				}
			}
			closeAll()
			logs := make([]map[string][]byte, len(members))
			for i, m := range members {
				logs[i] = map[string][]byte{}
				ents, err := os.ReadDir(filepath.Join(m.dir, "wal"))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					b, err := os.ReadFile(filepath.Join(m.dir, "wal", e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					logs[i][e.Name()] = b
				}
			}
			if len(logs[0]) == 0 {
				t.Fatal("the private bus has no log segment to compare")
			}
			for i, m := range members[1:] {
				if len(logs[i+1]) != len(logs[0]) {
					t.Errorf("%s: %d log files, private %d", m.name, len(logs[i+1]), len(logs[0]))
				}
				for name, want := range logs[0] {
					if got, ok := logs[i+1][name]; !ok || !bytes.Equal(got, want) {
						t.Errorf("%s: log file %s (%d bytes, present %v) differs from the private bus's (%d bytes)", m.name, name, len(got), ok, len(want))
					}
				}
			}
		})
	}
}
