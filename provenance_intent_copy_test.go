package mmsb

import (
	"testing"
)

// A provenance answer is the caller's: writing into a returned Intent must
// not change what later queries report (decoded ops are cached per bus).
func TestProvenanceIntentIsACopy(t *testing.T) {
	e := openMem(t, nil)
	ids := mustCreate(t, e, 1, 16)
	commitT(t, e, labelled(ids[0], 0, "abcd", "alice", `{"why":"a"}`))
	for _, o := range []ProvenanceOptions{{}, {Depth: -1}} {
		r := provT(t, e, ids[0], 0, 4, o)
		copy(r.Writes[0].Intent, "XXXXXXXXXXX")
		again := provT(t, e, ids[0], 0, 4, o)
		if got := string(again.Writes[0].Intent); got != `{"why":"a"}` {
			t.Fatalf("after writing into a returned Intent, a new query reports intent %q; want %q", got, `{"why":"a"}`)
		}
	}
}
