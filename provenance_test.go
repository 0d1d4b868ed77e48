package mmsb

import (
	"errors"
	"math"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

func labelled(id PageID, off int, data, src, intent string) delta.Delta {
	d := w(id, off, data)
	d.Source, d.Intent = src, []byte(intent)
	return d
}

func commitT(t *testing.T, e *Bus, ds ...delta.Delta) CommitInfo {
	t.Helper()
	info, err := e.Commit(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func provT(t *testing.T, e *Bus, id PageID, off, n int, o ProvenanceOptions) *ProvenanceResult {
	t.Helper()
	r, err := e.ProvenanceWith(ctx, id, off, n, o)
	if err != nil {
		t.Fatalf("Provenance(%d, %d, %d): %v", id, off, n, err)
	}
	return r
}

func TestProvenanceByteRanges(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	ids := mustCreate(t, e, 2, 128)
	a := commitT(t, e, labelled(ids[0], 0, "aaaa", "alice", `{"why":"a"}`))
	b := commitT(t, e, labelled(ids[0], 64, "bbbb", "bob", `{"why":"b"}`))
	commitT(t, e, labelled(ids[1], 0, "zz", "other", "")) // another page's write in between
	// A metadata change writes no bytes: the walk must pass over it.
	if err := e.SetMetadata(ctx, ids[0], []MetaEntry{{Key: "k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	// A sparse delta whose bounding range [8, 120) covers [64, 68) without writing it.
	sparse := delta.Delta{Page: ids[0], Source: "carol", Runs: []delta.Run{{Offset: 8, Data: []byte("c")}, {Offset: 119, Data: []byte("c")}}}
	c := commitT(t, e, sparse)

	tests := []struct {
		name     string
		off, n   int
		o        ProvenanceOptions
		wantLSN  LSN
		wantSrc  string
		wantExac bool
	}{
		{"first range", 0, 4, ProvenanceOptions{}, a.FirstLSN, "alice", true},
		{"second range", 64, 4, ProvenanceOptions{}, b.FirstLSN, "bob", true},
		{"one byte of second", 66, 1, ProvenanceOptions{}, b.FirstLSN, "bob", true},
		{"sparse writes byte 8", 8, 1, ProvenanceOptions{}, c.FirstLSN, "carol", true},
		{"spanning both older", 2, 70, ProvenanceOptions{}, c.FirstLSN, "carol", true},
		{"never written after create", 20, 4, ProvenanceOptions{}, 1, "", true},
		// Memory only: the sparse delta's bounding range matches, reported inexact.
		{"memory only inexact", 64, 4, ProvenanceOptions{NoLogDetails: true}, c.FirstLSN, "", false},
		{"memory only exact ask", 6, 4, ProvenanceOptions{NoLogDetails: true}, c.FirstLSN, "", true},
		{"memory only below sparse", 0, 4, ProvenanceOptions{NoLogDetails: true}, a.FirstLSN, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := provT(t, e, ids[0], tc.off, tc.n, tc.o)
			got := r.Writes[0]
			if got.LSN != tc.wantLSN || got.Source != tc.wantSrc || got.Exact != tc.wantExac || got.Page != ids[0] {
				t.Fatalf("got %+v, want LSN %d source %q exact %v", got, tc.wantLSN, tc.wantSrc, tc.wantExac)
			}
			if len(r.Writes) != 1 || r.ChainDepth != 0 || got.Parent != -1 {
				t.Fatalf("client write has ancestors: %+v", r)
			}
			if got.Time == 0 {
				t.Fatalf("no commit time: %+v", got)
			}
		})
	}
	r := provT(t, e, ids[0], 64, 4, ProvenanceOptions{})
	if string(r.Writes[0].Intent) != `{"why":"b"}` || r.Writes[0].Kind != OpDelta || r.Writes[0].Lo != 64 || r.Writes[0].Hi != 68 {
		t.Fatalf("details: %+v", r.Writes[0])
	}
	if r := provT(t, e, ids[0], 20, 4, ProvenanceOptions{}); r.Writes[0].Kind != OpCreatePage || r.Writes[0].Hi != 128 {
		t.Fatalf("creation: %+v", r.Writes[0])
	}
}

func TestProvenanceErrors(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	ids := mustCreate(t, e, 1, 16)
	bad := []struct {
		id     PageID
		off, n int
		want   error
	}{
		{99, 0, 1, ErrPageNotFound},
		{ids[0], 10, 7, ErrOutOfRange},
		{ids[0], 0, 0, ErrInvalidOption},
		{ids[0], -1, 2, ErrInvalidOption},
		// Ranges past the largest page, which as 32-bit bounds would
		// wrap around into the page.
		{ids[0], math.MaxInt - 8, 16, ErrOutOfRange},
		{ids[0], 4, math.MaxInt, ErrOutOfRange},
	}
	if shift := 32; math.MaxInt > math.MaxUint32 { // 64-bit int: an end of 2^32 + 16
		bad = append(bad, struct {
			id     PageID
			off, n int
			want   error
		}{ids[0], 1<<shift - 16, 32, ErrOutOfRange})
	}
	for _, b := range bad {
		if _, err := e.Provenance(ctx, b.id, b.off, b.n, 0); !errors.Is(err, b.want) {
			t.Errorf("Provenance(%d, %d, %d) = %v, want %v", b.id, b.off, b.n, err, b.want)
		}
	}
}

// buildChain creates root -> p1 -> ... -> p<depth> bound with passthrough,
// writes the root and propagates. It returns the page IDs (root first) and
// the root write's LSN.
func buildChain(tb testing.TB, e *Bus, depth int) ([]PageID, LSN) {
	tb.Helper()
	specs := make([]PageSpec, depth+1)
	for i := range specs {
		specs[i] = PageSpec{Size: 64}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 1; i <= depth; i++ {
		if err := e.Bind(ctx, ids[i], "passthrough", nil, []PageID{ids[i-1]}); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := e.Propagate(ctx); err != nil {
		tb.Fatal(err)
	}
	d := labelled(ids[0], 0, "payload!", "sensor", `{"k":1}`)
	info, err := e.Commit(ctx, []delta.Delta{d})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		tb.Fatal(err)
	}
	return ids, info.FirstLSN
}

func TestProvenanceChain31(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	ids, rootLSN := buildChain(t, e, 31)
	for _, o := range []ProvenanceOptions{{}, {NoLogDetails: true}} {
		r := provT(t, e, ids[31], 0, 8, o)
		if len(r.Writes) != 32 || r.ChainDepth != 31 || r.Truncated {
			t.Fatalf("chain: %d writes, depth %d, truncated %v", len(r.Writes), r.ChainDepth, r.Truncated)
		}
		for i, wr := range r.Writes {
			wantPage := ids[31-i]
			if wr.Page != wantPage || wr.Depth != i || wr.Parent != i-1 {
				t.Fatalf("write %d: %+v, want page %d depth %d", i, wr, wantPage, i)
			}
			if i < 31 && (!wr.Derived || wr.Kind != OpDerived) {
				t.Fatalf("write %d not derived: %+v", i, wr)
			}
			if !o.NoLogDetails && i < 31 && wr.Source != PropagationSource {
				t.Fatalf("write %d source %q", i, wr.Source)
			}
		}
		last := r.Writes[31]
		if last.LSN != rootLSN || last.Derived {
			t.Fatalf("chain ends at %+v, want client write LSN %d", last, rootLSN)
		}
		if !o.NoLogDetails && (last.Source != "sensor" || string(last.Intent) != `{"k":1}`) {
			t.Fatalf("root details: %+v", last)
		}
	}
	r := provT(t, e, ids[31], 0, 8, ProvenanceOptions{Depth: 5})
	if len(r.Writes) != 6 || r.ChainDepth != 5 || !r.Truncated {
		t.Fatalf("depth 5: %d writes, depth %d, truncated %v", len(r.Writes), r.ChainDepth, r.Truncated)
	}
	r = provT(t, e, ids[31], 0, 8, ProvenanceOptions{Depth: -1})
	if len(r.Writes) != 1 || !r.Truncated {
		t.Fatalf("depth -1: %d writes, truncated %v", len(r.Writes), r.Truncated)
	}
	// A second query on the warm bus reads no log.
	r = provT(t, e, ids[31], 0, 8, ProvenanceOptions{})
	if r.LogScans != 0 {
		t.Fatalf("warm query read the log %d times", r.LogScans)
	}
}

func TestProvenanceDiamondRepeats(t *testing.T) {
	e := openT(t, "", nil)
	defer e.Close()
	ids := mustCreate(t, e, 4, 8) // 1 -> 2, 1 -> 3, (2, 3) -> 4
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Bind(ctx, ids[1], "passthrough", nil, []PageID{ids[0]}))
	must(e.Bind(ctx, ids[2], "passthrough", nil, []PageID{ids[0]}))
	must(e.Bind(ctx, ids[3], "bool.or", nil, []PageID{ids[1], ids[2]}))
	commitT(t, e, w(ids[0], 0, "\x01"))
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	r := provT(t, e, ids[3], 0, 1, ProvenanceOptions{})
	// 4, then 2 and 3, then page 1's write twice (second is a repeat).
	if len(r.Writes) != 5 || r.ChainDepth != 2 {
		t.Fatalf("diamond: %+v", r.Writes)
	}
	if r.Writes[3].Repeat || !r.Writes[4].Repeat || r.Writes[3].LSN != r.Writes[4].LSN {
		t.Fatalf("repeat marking: %+v", r.Writes[3:])
	}
}

func TestProvenanceRingOverflowFallsBackToLog(t *testing.T) {
	e := openT(t, "", &Options{HistoryEntries: 16})
	defer e.Close()
	ids := mustCreate(t, e, 2, 64)
	a := commitT(t, e, labelled(ids[0], 0, "old!", "early", ""))
	commitT(t, e, labelled(ids[0], 32, "mid!", "later", ""))
	for i := 0; i < 40; i++ { // push both out of the 16-entry ring
		commitT(t, e, w(ids[1], i, "x"))
	}
	r := provT(t, e, ids[0], 0, 4, ProvenanceOptions{})
	got := r.Writes[0]
	if got.LSN != a.FirstLSN || got.Source != "early" || !got.FromLog || !got.Exact || r.LogScans == 0 {
		t.Fatalf("fallback: %+v (scans %d), want LSN %d from log", got, r.LogScans, a.FirstLSN)
	}
	// With no log at all, the lost history is reported, not invented.
	e2 := openT(t, "", &Options{HistoryEntries: 16, DisableLog: true})
	defer e2.Close()
	ids2 := mustCreate(t, e2, 2, 64)
	commitT(t, e2, w(ids2[0], 0, "old!"))
	for i := 0; i < 40; i++ {
		commitT(t, e2, w(ids2[1], i, "x"))
	}
	if r := provT(t, e2, ids2[0], 0, 4, ProvenanceOptions{}); !r.Writes[0].Lost {
		t.Fatalf("no log: %+v, want Lost", r.Writes[0])
	}
}

func TestProvenanceAfterRecoveryReadsLog(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	ids, rootLSN := buildChain(t, e, 3)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, dir, nil) // the ring is rebuilt by replay
	defer e.Close()
	r := provT(t, e, ids[3], 0, 8, ProvenanceOptions{})
	if len(r.Writes) != 4 || r.Writes[3].LSN != rootLSN || r.Writes[3].Source != "sensor" {
		t.Fatalf("after reopen: %+v", r.Writes)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e = openT(t, dir, nil) // from the checkpoint: nothing in the ring
	defer e.Close()
	r = provT(t, e, ids[3], 0, 8, ProvenanceOptions{})
	if len(r.Writes) != 4 || !r.Writes[0].FromLog || r.Writes[3].LSN != rootLSN || r.Writes[3].Source != "sensor" {
		t.Fatalf("after checkpoint: %+v", r.Writes)
	}
}

func BenchmarkProvenanceDepth31(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    ProvenanceOptions
	}{{"details", ProvenanceOptions{}}, {"memory-only", ProvenanceOptions{NoLogDetails: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := Open("", &Options{Clock: testClock()})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ids, _ := buildChain(b, e, 31)
			// Some unrelated history, so the log is not trivially small.
			other, _ := e.CreatePage(ctx, PageSpec{Size: 4096})
			for i := 0; i < 2000; i++ {
				if _, err := e.Commit(ctx, []delta.Delta{w(other, i%4000, "0123456789abcdef")}); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := e.ProvenanceWith(ctx, ids[31], 0, 8, bc.o); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := e.ProvenanceWith(ctx, ids[31], 0, 8, bc.o)
				if err != nil || r.ChainDepth != 31 {
					b.Fatal(err, r.ChainDepth)
				}
			}
		})
	}
}
