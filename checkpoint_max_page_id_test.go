package mmsb_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckpointWithTheLastPageIDLoads: a page created with ID 2^64-1
// leaves no ID to assign (the next would wrap to 0), which the bus keeps
// as a next ID of 0 and writes so into its checkpoints. The loader took
// that 0 for a bound and refused every page of such a checkpoint ("page 1
// at or past the next page ID 0"), so once checkpoints had trimmed the
// log a write-role client's one CreatePages made the bus unopenable.
// Reopened now, the state is the same, and an ID is still refused where
// none is left.
func TestCheckpointWithTheLastPageIDLoads(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	o := &mmsb.Options{SegmentBytes: 4096, CheckpointBytes: -1}
	b, err := mmsb.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := b.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {ID: math.MaxUint64, Size: 4}})
	if err != nil {
		t.Fatal(err)
	}
	last := ids[1]
	for r := 0; r < 3; r++ { // checkpoints that trim the log's first segments
		for i := 0; i < 100; i++ {
			if _, err := b.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, bytes.Repeat([]byte{byte(i)}, 60)), mmsb.Write(last, 0, []byte{byte(r), 2, 3, 4})}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want, err := b.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b, err = mmsb.Open(dir, o)
	if err != nil {
		t.Fatalf("reopen after checkpoints of a bus holding page %d: %v", uint64(math.MaxUint64), err)
	}
	defer b.Close()
	if got, err := b.StateHash(); err != nil || got != want {
		t.Fatalf("state hash after reopen %x (%v), want %x", got, err, want)
	}
	got, _, err := b.ReadPage(last, nil)
	if err != nil || !bytes.Equal(got, []byte{2, 2, 3, 4}) {
		t.Fatalf("page %d after reopen = %v (%v), want [2 2 3 4]", last, got, err)
	}
	if _, err := b.CreatePages(ctx, []mmsb.PageSpec{{Size: 4}}); !errors.Is(err, mmsb.ErrInvalidPage) {
		t.Fatalf("a page with an assigned ID after reopen: %v, want ErrInvalidPage (no ID left above the last)", err)
	}
	if _, err := b.CreatePages(ctx, []mmsb.PageSpec{{ID: 7, Size: 4}}); err != nil {
		t.Fatalf("a page with an explicit free ID after reopen: %v", err)
	}
}
