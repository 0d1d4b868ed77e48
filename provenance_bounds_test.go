package mmsb

import (
	"errors"
	"slices"
	"testing"
)

// incFuncs holds "inc": out = first parent + 1, byte by byte, so that every
// recompute writes.
var incFuncs = map[string]RecomputeFunc{
	"inc": func(in [][]byte, _ []byte, out []byte) error {
		for i := range out {
			out[i] = in[0][i%len(in[0])] + 1
		}
		return nil
	},
}

// checkProvenanceLinks checks that every parent write of r was written
// before the derived write that read it, so no walk can loop, and that
// depths grow by one along the links.
func checkProvenanceLinks(t *testing.T, r *ProvenanceResult) {
	t.Helper()
	for i, w := range r.Writes[1:] {
		up := r.Writes[w.Parent]
		if w.Parent > i || w.LSN >= up.LSN || w.Depth != up.Depth+1 {
			t.Fatalf("write %d %+v read by write %d %+v", i+1, w, w.Parent, up)
		}
	}
}

// TestProvenanceDeepAndAlternatingChainsBounded: a walk is bounded by its
// depth (DefaultProvenanceDepth, 32, when 0) however deep the chain, and by
// MaxProvenanceWrites whatever depth is asked; a chain whose pages form a
// cycle over time (a = inc(b), then, unbound, b = inc(a), and so on) is
// followed by LSN, which only falls, and ends at the first client write.
func TestProvenanceDeepAndAlternatingChainsBounded(t *testing.T) {
	e := openT(t, "", &Options{Functions: incFuncs})
	defer e.Close()
	ids := mustCreate(t, e, 2, 4)
	a, b := ids[0], ids[1]
	commitT(t, e, w(a, 0, "seed"))
	const rebinds = 100
	for i := range rebinds {
		child, parent := b, a
		if i%2 == 1 {
			child, parent = a, b
		}
		if i > 0 {
			if err := e.Unbind(ctx, parent); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.Bind(ctx, child, "inc", nil, []PageID{parent}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Propagate(ctx)
		if err != nil || len(res.Writes) != 1 {
			t.Fatalf("wave %d: %+v, %v", i, res, err)
		}
	}
	last := b
	if rebinds%2 == 0 {
		last = a
	}
	r := provT(t, e, last, 0, 4, ProvenanceOptions{})
	if len(r.Writes) != DefaultProvenanceDepth+1 || r.ChainDepth != DefaultProvenanceDepth || !r.Truncated {
		t.Fatalf("default depth: %d writes, chain depth %d, truncated %v; want %d, %d, true",
			len(r.Writes), r.ChainDepth, r.Truncated, DefaultProvenanceDepth+1, DefaultProvenanceDepth)
	}
	checkProvenanceLinks(t, r)
	r = provT(t, e, last, 0, 4, ProvenanceOptions{Depth: 1 << 30})
	if len(r.Writes) != rebinds+1 || r.ChainDepth != rebinds || r.Truncated {
		t.Fatalf("whole chain: %d writes, chain depth %d, truncated %v; want %d, %d, false", len(r.Writes), r.ChainDepth, r.Truncated, rebinds+1, rebinds)
	}
	checkProvenanceLinks(t, r)
	if end := r.Writes[len(r.Writes)-1]; end.Page != a || end.Derived || end.Kind != OpDelta {
		t.Fatalf("the chain ends at %+v, want the client write of page %d", end, a)
	}
	for i, w := range r.Writes[:len(r.Writes)-1] {
		if !w.Derived || w.Repeat || w.Lost {
			t.Fatalf("write %d of the chain: %+v", i, w)
		}
	}

	// A page read by more pages than an answer may hold: the answer
	// stops at MaxProvenanceWrites, truncated, whatever depth is asked.
	wide := mustCreate(t, e, 1, 1)[0]
	srcs := mustCreate(t, e, MaxProvenanceWrites+10, 1)
	if err := e.Bind(ctx, wide, "inc", nil, srcs); err != nil {
		t.Fatal(err)
	}
	// Written 64 to a commit, in many records (one record of all the
	// writes is TestProvenanceWideCommitDecodesEachOpOnce's case).
	for ps := range slices.Chunk(srcs, 64) {
		ds := make([]Delta, len(ps))
		for i, p := range ps {
			ds[i] = w(p, 0, "x")
		}
		commitT(t, e, ds...)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	r = provT(t, e, wide, 0, 1, ProvenanceOptions{Depth: 1 << 30})
	if len(r.Writes) != MaxProvenanceWrites || !r.Truncated {
		t.Fatalf("wide: %d writes, truncated %v; want %d, true", len(r.Writes), r.Truncated, MaxProvenanceWrites)
	}
}

// TestProvenanceOfFreedParentAndPageEnds: a derived write whose parent has
// since been unbound from it and freed still names that parent's write
// (the page is gone, its history is not); the last byte of a page has a
// writer, a range one past it is ErrOutOfRange, and a zero-length range
// ErrInvalidOption; a freed page itself is ErrPageNotFound.
func TestProvenanceOfFreedParentAndPageEnds(t *testing.T) {
	e := openT(t, "", &Options{Functions: incFuncs})
	defer e.Close()
	ids := mustCreate(t, e, 2, 8)
	p, d := ids[0], ids[1]
	parentWrite := commitT(t, e, w(p, 6, "zz")).FirstLSN
	if err := e.Bind(ctx, d, "inc", nil, []PageID{p}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Propagate(ctx)
	if err != nil || len(res.Writes) != 1 {
		t.Fatalf("wave: %+v, %v", res, err)
	}
	derived := res.Writes[0].LSN
	if err := e.Unbind(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.FreePage(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, o := range []ProvenanceOptions{{}, {NoLogDetails: true}} {
		r := provT(t, e, d, 7, 1, o)
		if len(r.Writes) != 2 || r.Writes[0].LSN != derived || !r.Writes[0].Derived {
			t.Fatalf("%+v: %+v", o, r.Writes)
		}
		if pw := r.Writes[1]; pw.Page != p || pw.LSN != parentWrite || pw.Kind != OpDelta || pw.Lost || pw.Lo != 6 || pw.Hi != 8 {
			t.Fatalf("%+v: the freed parent's write is %+v, want page %d LSN %d [6, 8)", o, pw, p, parentWrite)
		}
	}
	for _, c := range []struct {
		id     PageID
		off, n int
		want   error
	}{
		{d, 8, 1, ErrOutOfRange},
		{d, 7, 2, ErrOutOfRange},
		{d, 8, 0, ErrInvalidOption},
		{d, 7, 0, ErrInvalidOption},
		{p, 0, 1, ErrPageNotFound},
	} {
		if _, err := e.Provenance(ctx, c.id, c.off, c.n, 0); !errors.Is(err, c.want) {
			t.Fatalf("Provenance(%d, %d, %d): %v, want %v", c.id, c.off, c.n, err, c.want)
		}
	}
}
