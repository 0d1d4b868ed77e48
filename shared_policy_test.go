package mmsb

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestSharedMemoryPoliciesKeepState: shared mode under every memory
// policy (pre-faulted or lazy, huge pages or not) and a private bus get
// the same seeded creates (small pages and pages with a chunk of their
// own), frees (cell, slot and chunk reuse) and delta batches: after every
// step every bus has the same state hash, a Reader of each shared bus
// reads every page equal to the private bus, and each bus replays to its
// live state. Shared mode changes where page bytes live, never what they
// are.
func TestSharedMemoryPoliciesKeepState(t *testing.T) {
	shm := scratchShmDir(t)
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			names := []string{"private"}
			private, err := Open(t.TempDir(), &Options{Sync: SyncNone, Clock: testClock()})
			if err != nil {
				t.Fatal(err)
			}
			defer private.Close()
			buses := []*Bus{private}
			var readers []*Reader
			for _, p := range memoryPolicies {
				o := p.opts
				o.Shared, o.SharedDir, o.Sync, o.Clock = true, shm, SyncNone, testClock()
				dir := t.TempDir()
				b, err := Open(dir, &o)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				rd, err := OpenReader(dir, &ReaderOptions{SharedDir: shm})
				if err != nil {
					t.Fatal(err)
				}
				defer rd.Close()
				names, buses, readers = append(names, "shared-"+p.name), append(buses, b), append(readers, rd)
			}
			var live []PageID
			for step := range 40 {
				apply, created := randomSharedStep(ctx, rng, &live, private)
				for i, b := range buses {
					if err := apply(b); err != nil {
						t.Fatalf("%s: step %d: %v", names[i], step, err)
					}
				}
				live = append(live, *created...)
				want, err := private.StateHash()
				if err != nil {
					t.Fatal(err)
				}
				for i, b := range buses[1:] {
					if got, err := b.StateHash(); err != nil || got != want {
						t.Fatalf("step %d: %s state hash %x (%v), private %x", step, names[i+1], got, err, want)
					}
				}
				for _, id := range live {
					page, epoch, err := private.ReadPage(id, nil)
					if err != nil {
						t.Fatal(err)
					}
					for i, rd := range readers {
						got, ep, _, err := rd.ReadPage(id, nil)
						if err != nil || ep != epoch || !bytes.Equal(got, page) {
							t.Fatalf("step %d: %s reader, page %d: epoch %d (%v), want %d; bytes equal %v",
								step, names[i+1], id, ep, err, epoch, bytes.Equal(got, page))
						}
					}
				}
			}
			for i, b := range buses {
				rep, err := b.VerifyReplay(ctx, false)
				if err != nil || !rep.Equal() {
					t.Fatalf("%s: replay: %v %v", names[i], err, rep.Differences)
				}
			}
		})
	}
}

// randomSharedStep draws one step of the shared-versus-private tests: a
// create of 1 to 6 pages of mixed sizes (also whenever live is empty), a
// free of a live page (removed from live), or a commit of 1 to 20 writes
// to live pages (sizes read from ref). apply runs the step on one bus;
// *created holds the IDs the last apply created.
func randomSharedStep(ctx context.Context, rng *rand.Rand, live *[]PageID, ref *Bus) (apply func(b *Bus) error, created *[]PageID) {
	created = new([]PageID)
	sizes := []int{1, 64, 1000, 4096, 1<<20 + 1}
	switch op := rng.IntN(6); {
	case op == 0 || len(*live) == 0:
		specs := make([]PageSpec, 1+rng.IntN(6))
		for i := range specs {
			specs[i].Size = sizes[rng.IntN(len(sizes))]
		}
		return func(b *Bus) error {
			ids, err := b.CreatePages(ctx, specs)
			*created = ids
			return err
		}, created
	case op == 1:
		i := rng.IntN(len(*live))
		id := (*live)[i]
		*live = append((*live)[:i:i], (*live)[i+1:]...)
		return func(b *Bus) error { *created = nil; return b.FreePage(ctx, id) }, created
	}
	var ds []delta.Delta
	for range 1 + rng.IntN(20) {
		id := (*live)[rng.IntN(len(*live))]
		info, _ := ref.Page(id)
		off := rng.IntN(info.Size)
		n := 1 + rng.IntN(min(info.Size-off, 64))
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		ds = append(ds, w(id, off, string(data)))
	}
	return func(b *Bus) error {
		*created = nil
		_, err := b.Commit(ctx, append([]delta.Delta(nil), ds...))
		return err
	}, created
}
