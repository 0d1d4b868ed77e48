package delta

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// genDelta draws a delta of any form for a page of size bytes. Runs may
// overlap and come in any order; masks are drawn as stretches so that runs
// of set bits cross 64-bit word boundaries. Empty deltas are allowed: they
// are Merge's identity.
func genDelta(t *rapid.T, size int, label string) *Delta {
	form := Form(rapid.IntRange(0, 2).Draw(t, label+".form"))
	d := &Delta{Page: 1, Form: form}
	if form == FormRuns {
		n := rapid.IntRange(0, 6).Draw(t, label+".nruns")
		for range n {
			off := rapid.IntRange(0, size-1).Draw(t, label+".off")
			ln := rapid.IntRange(1, min(size-off, 80)).Draw(t, label+".len")
			d.Runs = append(d.Runs, Run{Offset: uint32(off), Data: rapid.SliceOfN(rapid.Byte(), ln, ln).Draw(t, label+".data")})
		}
		return d
	}
	d.MaskLen = uint32(rapid.IntRange(1, size).Draw(t, label+".masklen"))
	d.Mask = make([]byte, maskBytes(d.MaskLen))
	n := rapid.IntRange(0, 5).Draw(t, label+".stretches")
	for range n {
		off := rapid.IntRange(0, int(d.MaskLen)-1).Draw(t, label+".moff")
		ln := rapid.IntRange(1, int(d.MaskLen)-off).Draw(t, label+".mlen")
		setBits(d.Mask, uint32(off), uint32(ln))
	}
	cnt := int(popcount(d.Mask, d.MaskLen))
	if form == FormMaskedDense {
		cnt = int(d.MaskLen)
	}
	d.Payload = rapid.SliceOfN(rapid.Byte(), cnt, cnt).Draw(t, label+".payload")
	return d
}

func genSize(t *rapid.T) int { return rapid.IntRange(1, 300).Draw(t, "size") }

func effectEqual(t *rapid.T, what string, got, want []int) {
	if !slices.Equal(got, want) {
		t.Fatalf("%s: effect differs\n got %v\nwant %v", what, got, want)
	}
}

// compose is the oracle for Merge: a's effect overlaid with b's.
func compose(a, b []int) []int {
	out := slices.Clone(a)
	for i, v := range b {
		if v >= 0 {
			out[i] = v
		}
	}
	return out
}

func sameRuns(a, b []Run) bool {
	return slices.EqualFunc(a, b, func(x, y Run) bool { return x.Offset == y.Offset && bytes.Equal(x.Data, y.Data) })
}

func TestPropApplyMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		d := genDelta(t, size, "d")
		eff := model(d, size)
		init := rapid.SliceOfN(rapid.Byte(), size, size).Draw(t, "page")
		got, want := slices.Clone(init), slices.Clone(init)
		if err := Apply(d, got); err != nil {
			t.Fatal(err)
		}
		applyModel(eff, want)
		if !bytes.Equal(got, want) {
			t.Fatalf("Apply differs from model")
		}
		n := 0
		for _, v := range eff {
			if v >= 0 {
				n++
			}
		}
		if WrittenBytes(d) != n {
			t.Fatalf("WrittenBytes = %d, want %d", WrittenBytes(d), n)
		}
		if err := Validate(d, size); (err == nil) != (n > 0) {
			t.Fatalf("Validate = %v with %d bytes written", err, n)
		}
	})
}

// mustMerge is Merge for deltas known to target the same page.
func mustMerge(t interface{ Fatal(...any) }, a, b *Delta) Delta {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPropMergeComposes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		a, b := genDelta(t, size, "a"), genDelta(t, size, "b")
		m := mustMerge(t, a, b)
		checkNormalized(t, &m)
		effectEqual(t, "merge", model(&m, size), compose(model(a, size), model(b, size)))
		// apply(merge(a,b)) == apply(a); apply(b) on a real page.
		init := rapid.SliceOfN(rapid.Byte(), size, size).Draw(t, "page")
		p1, p2 := slices.Clone(init), slices.Clone(init)
		if err := errors.Join(Apply(&m, p1), Apply(a, p2), Apply(b, p2)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p1, p2) {
			t.Fatal("apply(merge(a,b)) != apply(a); apply(b)")
		}
	})
}

func TestPropMergeAssociative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		a, b, c := genDelta(t, size, "a"), genDelta(t, size, "b"), genDelta(t, size, "c")
		ab := mustMerge(t, a, b)
		bc := mustMerge(t, b, c)
		l := mustMerge(t, &ab, c)
		r := mustMerge(t, a, &bc)
		effectEqual(t, "assoc", model(&l, size), model(&r, size))
		if !sameRuns(l.Runs, r.Runs) {
			t.Fatalf("normalized forms differ:\n%v\n%v", l.Runs, r.Runs)
		}
		nl, nr := Normalize(&l), Normalize(&r)
		if !sameRuns(nl.Runs, nr.Runs) || !sameRuns(nl.Runs, l.Runs) {
			t.Fatal("Normalize of a merge result is not a fixed point")
		}
	})
}

func TestPropMergeIdentity(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		a := genDelta(t, size, "a")
		empty := Delta{Page: a.Page}
		na := Normalize(a)
		l, r := mustMerge(t, &empty, a), mustMerge(t, a, &empty)
		if !sameRuns(l.Runs, na.Runs) || !sameRuns(r.Runs, na.Runs) {
			t.Fatalf("empty is not an identity:\n%v\n%v\n%v", l.Runs, r.Runs, na.Runs)
		}
	})
}

func TestPropNormalize(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		d := genDelta(t, size, "d")
		n := Normalize(d)
		checkNormalized(t, &n)
		effectEqual(t, "normalize", model(&n, size), model(d, size))
		nn := Normalize(&n)
		if !sameRuns(nn.Runs, n.Runs) {
			t.Fatal("Normalize is not idempotent")
		}
	})
}

func TestPropConversions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		d := genDelta(t, size, "d")
		want := model(d, size)
		maskLen := uint32(rapid.IntRange(size, size+70).Draw(t, "masklen"))
		dense := mustMasked(ToMaskedDense(d, maskLen))
		sparse := mustMasked(ToMaskedSparse(d, maskLen))
		ds := mustMasked(ToMaskedSparse(&dense, maskLen))
		sd := mustMasked(ToMaskedDense(&sparse, maskLen))
		for what, c := range map[string]*Delta{"dense": &dense, "sparse": &sparse, "dense->sparse": &ds, "sparse->dense": &sd} {
			effectEqual(t, what, model(c, int(maskLen))[:size], want)
			n := Normalize(c)
			if nd := Normalize(d); !sameRuns(n.Runs, nd.Runs) {
				t.Fatalf("%s->runs differs from runs", what)
			}
		}
		if !bytes.Equal(ds.Payload, sparse.Payload) || !bytes.Equal(ds.Mask, sparse.Mask) {
			t.Fatal("dense->sparse differs from sparse")
		}
		if !bytes.Equal(sd.Mask, dense.Mask) || !bytes.Equal(sd.Payload, dense.Payload) {
			t.Fatal("sparse->dense differs from dense")
		}
	})
}

func TestPropDiff(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(0, 300).Draw(t, "size")
		old := rapid.SliceOfN(rapid.Byte(), size, size).Draw(t, "old")
		new := slices.Clone(old)
		if size > 0 {
			for range rapid.IntRange(0, 20).Draw(t, "changes") {
				i := rapid.IntRange(0, size-1).Draw(t, "at")
				ln := rapid.IntRange(1, min(size-i, 30)).Draw(t, "len")
				for k := i; k < i+ln; k++ {
					new[k] = rapid.Byte().Draw(t, "b")
				}
			}
		}
		d, err := Diff(5, old, new)
		if err != nil {
			t.Fatal(err)
		}
		checkNormalized(t, &d)
		got := slices.Clone(old)
		if err := Apply(&d, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, new) {
			t.Fatal("apply(Diff(old,new), old) != new")
		}
		// Minimal: writes exactly the differing bytes.
		eff := model(&d, size)
		for i := range size {
			if (eff[i] >= 0) != (old[i] != new[i]) {
				t.Fatalf("byte %d: written=%v, differs=%v", i, eff[i] >= 0, old[i] != new[i])
			}
		}
		if len(d.Runs) == 0 && d.Runs != nil {
			t.Fatal("empty diff has non-nil runs")
		}
	})
}

func TestPropCodecRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := genSize(t)
		d := genDelta(t, size, "d")
		d.Page = 0
		d.Source = rapid.SampledFrom([]string{"", "api", "propagation", "bench", "replay", "x", "some-tool"}).Draw(t, "source")
		d.Intent = rapid.SliceOfN(rapid.Byte(), 0, 20).Draw(t, "intent")
		d.CheckEpoch = rapid.Bool().Draw(t, "check")
		if d.CheckEpoch {
			d.ExpectEpoch = epochOf(rapid.Uint64().Draw(t, "epoch"))
		}
		d.Page = pageID(rapid.Uint64().Draw(t, "page"))
		enc := AppendEncode(nil, d)
		var got Delta
		got.Runs = make([]Run, 0, 2)
		n, err := Decode(enc, &got)
		if err != nil || n != len(enc) {
			t.Fatalf("Decode = (%d, %v), len %d", n, err, len(enc))
		}
		if !sameDelta(d, &got) {
			t.Fatalf("round trip differs")
		}
	})
}
