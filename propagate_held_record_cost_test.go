package mmsb

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestWaveRecordRepeatsHeldSet measures what docs/propagation.md says a
// wave record costs while a function fails: every wave that logs (one
// that consumed dirty pages) repeats the whole held-back set in its wave
// op, not what changed in it, at about one byte a held page when the held
// pages' IDs are close (the set's gap encoding, docs/formats.md). A
// failing function f holds back itself and the pages below it while a
// healthy page g is computed from r at every wave. With 1,999 pages below
// f each wave record is 1,999 to 2,015 bytes larger than with none below
// it (a held set of 2,000 contiguous IDs against one of 1: one more byte
// of count, 1,999 one-byte gaps), at the first wave and again at the
// tenth, though the set never changed.
func TestWaveRecordRepeatsHeldSet(t *testing.T) {
	const below = 1999
	wave := func(below int) (first, tenth uint64) {
		fns := copyFuncs()
		fns["f"] = func([][]byte, []byte, []byte) error { return errors.New("refused on purpose") }
		e := openT(t, "/bus", &Options{FS: vfs.NewMem(), CheckpointBytes: -1, Functions: fns})
		ids := mustCreate(t, e, 3+below, 8)
		r, g, f := ids[0], ids[1], ids[2]
		if err := e.Bind(ctx, g, "copy", nil, []PageID{r}); err != nil {
			t.Fatal(err)
		}
		if err := e.Bind(ctx, f, "f", nil, []PageID{r}); err != nil {
			t.Fatal(err)
		}
		for _, d := range ids[3:] {
			if err := e.Bind(ctx, d, "copy", nil, []PageID{f}); err != nil {
				t.Fatal(err)
			}
		}
		var sizes []uint64
		for i := range 10 {
			if _, err := e.Commit(ctx, []delta.Delta{w(r, 0, string(rune('a'+i)))}); err != nil {
				t.Fatal(err)
			}
			before := e.Stats().Log.PayloadBytes
			res, err := e.Propagate(ctx)
			if !errors.Is(err, ErrRecompute) || res.HeldBack != 1+below || len(res.Writes) != 1 {
				t.Fatalf("wave %d: %v, %d held back, %d writes; want f's failure, %d held back, g written", i, err, res.HeldBack, len(res.Writes), 1+below)
			}
			sizes = append(sizes, e.Stats().Log.PayloadBytes-before)
		}
		return sizes[0], sizes[9]
	}
	oneFirst, oneTenth := wave(0)
	manyFirst, manyTenth := wave(below)
	t.Logf("wave record payload: %d and %d bytes holding back 1 page, %d and %d holding back %d",
		oneFirst, oneTenth, manyFirst, manyTenth, 1+below)
	for _, c := range []struct {
		name      string
		one, many uint64
	}{{"first wave", oneFirst, manyFirst}, {"tenth wave", oneTenth, manyTenth}} {
		if c.many < c.one+below || c.many > c.one+below+16 {
			t.Errorf("%s: %d bytes holding back %d pages, %d holding back 1: want %d to %d more (the whole held set)",
				c.name, c.many, 1+below, c.one, below, below+16)
		}
	}
}
