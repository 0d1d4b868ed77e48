package mmsb

import (
	"errors"
	"testing"
)

// TestCreateAfterRefusedBatchKeepsDirectPages: pages created in ID order
// after a create batch was refused (for space, with part of its chunks
// already reserved; or for its record size, after its reservation) are
// laid out as on a bus that never saw the refused batch: the same state
// hash, and the same flat prefix (Stats.DirectPages). The refused
// batch's chunk indices were given back lowest first, so the next creates
// took them backwards (chunk 1 before chunk 0) and the prefix ended at
// the first chunk: "DirectPages 4096 after a refused batch, want 12288".
func TestCreateAfterRefusedBatchKeepsDirectPages(t *testing.T) {
	const n, size = 3 * 4096, 1024 // three 4 MiB chunks of 1 KiB cells
	for _, tc := range []struct {
		name   string
		refuse func(t *testing.T, e *Bus, rep *fakeReplicator) // sets up the refusal
		undo   func(e *Bus, rep *fakeReplicator)
		want   error
	}{
		{
			name: "no space",
			refuse: func(t *testing.T, e *Bus, _ *fakeReplicator) {
				e.mu.Lock()
				e.store.SetArenaLimit(2 * 4 << 20) // two of the three chunks
				e.mu.Unlock()
			},
			undo: func(e *Bus, _ *fakeReplicator) {
				e.mu.Lock()
				e.store.SetArenaLimit(0)
				e.mu.Unlock()
			},
			want: ErrNoSpace,
		},
		{
			name:   "record too large",
			refuse: func(t *testing.T, _ *Bus, rep *fakeReplicator) { rep.max = 64 },
			undo:   func(_ *Bus, rep *fakeReplicator) { rep.max = 0 },
			want:   ErrRecordTooLarge,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plainRep, rep := &fakeReplicator{}, &fakeReplicator{}
			plain := openMem(t, &Options{Replicator: plainRep})
			e := openMem(t, &Options{Replicator: rep})
			specs := make([]PageSpec, n)
			for i := range specs {
				specs[i] = PageSpec{Size: size}
			}
			tc.refuse(t, e, rep)
			if _, err := e.CreatePages(ctx, specs); !errors.Is(err, tc.want) {
				t.Fatalf("the batch to refuse: %v, want %v", err, tc.want)
			}
			tc.undo(e, rep)
			mustCreate(t, plain, n, size)
			mustCreate(t, e, n, size)
			if got, want := e.Stats().Store.DirectPages, plain.Stats().Store.DirectPages; got != want || want != n {
				t.Fatalf("DirectPages %d after a refused batch, want %d (%d without it)", got, n, want)
			}
			if got, want := hashOf(t, e), hashOf(t, plain); got != want {
				t.Fatalf("state hash %#x after a refused batch, %#x without it", got, want)
			}
			if got, want := e.Stats().Store.ArenaBytes, plain.Stats().Store.ArenaBytes; got != want {
				t.Fatalf("%d bytes of page memory after a refused batch, %d without it", got, want)
			}
		})
	}
}
