package mmsb

import (
	"testing"
)

// A replay target that falls inside a batch (one record: a Commit of
// several deltas) stops at the end of that batch, as ToTime does, never
// half-way: no reader ever saw the half-batch state, and `mmsb replay`
// wrote it out as an intact bus. LastLSN says where it stopped.
func TestReplayTargetInsideBatchStopsAtItsEnd(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	ids := mustCreate(t, e, 2, 8)
	x, y := ids[0], ids[1]
	commitT(t, e, w(x, 0, "x0"), w(y, 0, "y0"))
	batch := commitT(t, e, w(x, 0, "x1"), w(y, 0, "y1"))
	if batch.LastLSN != batch.FirstLSN+1 {
		t.Fatalf("batch LSNs %d..%d, want two", batch.FirstLSN, batch.LastLSN)
	}
	commitT(t, e, w(x, 0, "x2"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target ReplayTarget
	}{
		{"ToLSN at the batch's first LSN", ReplayTarget{ToLSN: batch.FirstLSN}},
		{"ToLSN at the batch's last LSN", ReplayTarget{ToLSN: batch.LastLSN}},
		{"page x reaches epoch 2 at the batch's first LSN", ReplayTarget{Page: x, Epoch: 2}},
		{"from empty", ReplayTarget{ToLSN: batch.FirstLSN, FromEmpty: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Replay(ctx, dir, tc.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			bx, _, _ := r.ReadPage(x, nil)
			by, _, _ := r.ReadPage(y, nil)
			if r.LastLSN() != batch.LastLSN || string(bx[:2]) != "x1" || string(by[:2]) != "y1" {
				t.Fatalf("Replay(%+v): state at LSN %d with x=%q y=%q; want the whole batch: LSN %d, x1 y1",
					tc.target, r.LastLSN(), bx[:2], by[:2], batch.LastLSN)
			}
		})
	}
}

// A propagation wave's record is one batch too: a target inside it stops
// at the wave's end.
func TestReplayTargetInsideWaveStopsAtItsEnd(t *testing.T) {
	dir := t.TempDir()
	copyFn := func(in [][]byte, _ []byte, out []byte) error {
		copy(out, in[0])
		return nil
	}
	e := openT(t, dir, &Options{Functions: map[string]RecomputeFunc{"copy": copyFn}})
	ids := mustCreate(t, e, 3, 8)
	src, d1, d2 := ids[0], ids[1], ids[2]
	for _, d := range []PageID{d1, d2} {
		if err := e.Bind(ctx, d, "copy", nil, []PageID{src}); err != nil {
			t.Fatal(err)
		}
	}
	commitT(t, e, w(src, 0, "s1"))
	res, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.LastLSN-res.FirstLSN < 2 {
		t.Fatalf("wave LSNs %d..%d, want at least three operations", res.FirstLSN, res.LastLSN)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Replay(ctx, dir, ReplayTarget{ToLSN: res.FirstLSN}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b1, _, _ := r.ReadPage(d1, nil)
	b2, _, _ := r.ReadPage(d2, nil)
	if r.LastLSN() != res.LastLSN || string(b1[:2]) != "s1" || string(b2[:2]) != "s1" {
		t.Fatalf("Replay to LSN %d inside the wave %d..%d: state at LSN %d, d1=%q d2=%q; want the whole wave",
			res.FirstLSN, res.FirstLSN, res.LastLSN, r.LastLSN(), b1[:2], b2[:2])
	}
}
