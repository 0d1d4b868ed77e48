package mmsb

import (
	"testing"
)

// A derived write whose derivation record the log no longer holds (and
// that is not the page's latest derivation, kept in memory) has parents
// that cannot be named: the answer must say so with a Lost entry, not list
// the write as if it had no parents.
func TestProvenanceDerivedWriteWithLostReads(t *testing.T) {
	e := openT(t, t.TempDir(), &Options{SegmentBytes: 4096})
	defer e.Close()
	ids := mustCreate(t, e, 3, 64)
	src, dst, other := ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, dst, "passthrough", nil, []PageID{src}); err != nil {
		t.Fatal(err)
	}
	commitT(t, e, w(src, 0, "first"))
	wave, err := e.Propagate(ctx)
	if err != nil || len(wave.Writes) != 1 {
		t.Fatalf("wave %+v, %v: want dst written", wave, err)
	}
	derived := wave.Writes[0].LSN // dst's write of bytes [0, 5) (the wave's record ends with its wave op)
	for i := 0; i < 200; i++ {
		commitT(t, e, w(src, 8, "filler-filler-filler-filler"))
	}
	// A later derivation of dst that leaves bytes [0, 5) alone, so that
	// the one at `derived` is no longer dst's latest.
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		commitT(t, e, w(other, 0, "x")) // checkpoints keep one older: trim on the second
	}
	if d, ok := e.LastDerivation(dst); !ok || d.LSN == derived {
		t.Fatalf("latest derivation of %d: %+v %v; the test needs a newer one than LSN %d", dst, d, ok, derived)
	}
	if st := e.Stats(); st.Log.OldestLSN <= derived {
		t.Fatalf("log not trimmed past LSN %d (oldest %d)", derived, st.Log.OldestLSN)
	}
	r := provT(t, e, dst, 0, 4, ProvenanceOptions{NoLogDetails: true})
	root := r.Writes[0]
	if root.LSN != derived || !root.Derived {
		t.Fatalf("Writes[0] = %+v, want the derived write at LSN %d", root, derived)
	}
	lostParents := 0
	for _, pw := range r.Writes[1:] {
		if pw.Parent == 0 && pw.Lost && pw.Depth == 1 {
			lostParents++
		}
	}
	if lostParents != 1 {
		t.Fatalf("derived write at LSN %d whose reads are gone: writes %+v; want one Lost parent entry", derived, r.Writes)
	}
}
