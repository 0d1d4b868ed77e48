package mmsb

import (
	"bytes"
	"runtime"
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

// A write that a provenance answer reaches by many paths is listed once and
// then as Repeat entries, which share the first entry's Intent: each was a
// copy of its own, so one write's 1 MiB intent reached through 64 parents
// of a derived page made an answer of 64 MiB of intents (found by the
// inspector review of 2026-12-06; up to MaxProvenanceWrites copies). The
// answer's allocation is bounded, and every entry still reads the intent.
func TestProvenanceRepeatsShareTheIntent(t *testing.T) {
	const paths, intentBytes = 64, 1 << 20
	e := openMem(t, nil)
	ids := mustCreate(t, e, paths+2, 8)
	src, sum, mids := ids[0], ids[1], ids[2:]
	for _, m := range mids {
		if err := e.Bind(ctx, m, "passthrough", nil, []PageID{src}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Bind(ctx, sum, "f64.sum", nil, mids); err != nil {
		t.Fatal(err)
	}
	intent := bytes.Repeat([]byte{'i'}, intentBytes)
	d := w(src, 0, "\x00\x00\x00\x00\x00\x00\xf0\x3f") // 1.0
	d.Intent = intent
	commitT(t, e, d)
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := provT(t, e, sum, 0, 8, ProvenanceOptions{})
	runtime.ReadMemStats(&after)
	repeats := 0
	for i := range r.Writes {
		wr := &r.Writes[i]
		if wr.Page != src {
			continue
		}
		if !bytes.Equal(wr.Intent, intent) {
			t.Fatalf("entry %d (repeat %v) has an intent of %d bytes, want the write's %d", i, wr.Repeat, len(wr.Intent), intentBytes)
		}
		if wr.Repeat {
			repeats++
		}
	}
	if repeats != paths-1 {
		t.Fatalf("%d repeat entries of the source write, want %d", repeats, paths-1)
	}
	// Half of what the copies alone take: the rest of the answer costs
	// about 20 MiB here, mostly a 256 KiB log reader buffer for each of
	// the 64 derived steps read from the log (the copies made it 87 MB).
	if got, most := after.TotalAlloc-before.TotalAlloc, uint64(paths*intentBytes/2); got > most {
		t.Fatalf("the answer allocated %d bytes for a %d-byte intent reached by %d paths, want at most %d", got, intentBytes, paths, most)
	}
}
