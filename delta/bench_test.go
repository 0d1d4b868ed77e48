package delta

import (
	"math/rand/v2"
	"testing"
)

func bench16() *Delta {
	return &Delta{Page: 123456, Runs: []Run{{Offset: 512, Data: seq(0, 16)}}, Source: SourceAPI}
}

func BenchmarkApplyRuns16B(b *testing.B) {
	d := bench16()
	page := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(16)
	for b.Loop() {
		if err := Apply(d, page); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyMaskedDense4KiB(b *testing.B) {
	var rs []Run
	for off := 0; off < 4096; off += 64 {
		rs = append(rs, Run{Offset: uint32(off), Data: seq(off, 24)})
	}
	d := mustMasked(ToMaskedDense(&Delta{Runs: rs}, 4096))
	page := make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(4096)
	for b.Loop() {
		if err := Apply(&d, page); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate16B(b *testing.B) {
	d := bench16()
	b.ReportAllocs()
	for b.Loop() {
		if Validate(d, 4096) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncode16B(b *testing.B) {
	d := bench16()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], d)
	}
}

// BenchmarkEncodeBatch16B encodes batches of 1,000 16-byte deltas at
// random pages (of 1M) and offsets (of 1 KiB), as a commit's check does:
// unlike BenchmarkEncode16B, whose one delta the branch predictor learns,
// its varints vary in length from delta to delta. Reports ns/delta.
func BenchmarkEncodeBatch16B(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ds := make([]Delta, 1000)
	for i := range ds {
		ds[i] = Delta{Page: PageID(r.IntN(1<<20) + 1), Runs: []Run{{Offset: uint32(r.IntN(1008)), Data: seq(i, 16)}}}
	}
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range ds {
			buf = AppendEncode(buf, &ds[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/delta")
}

func BenchmarkDecode16B(b *testing.B) {
	enc := AppendEncode(nil, bench16())
	var d Delta
	d.Runs = make([]Run, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDecode16B(b *testing.B) {
	src := bench16()
	buf := make([]byte, 0, 64)
	var d Delta
	d.Runs = make([]Run, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], src)
		if _, err := Decode(buf, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiff1KiB diffs two 1 KiB pages that differ in eight scattered
// 8-byte stretches, the shape a recompute function's output usually has.
func BenchmarkDiff1KiB(b *testing.B) {
	old, new := make([]byte, 1024), make([]byte, 1024)
	for i := 0; i < 1024; i += 128 {
		for k := range 8 {
			new[i+k+3] = byte(k + 1)
		}
	}
	var d Delta
	d.Runs = make([]Run, 0, 16)
	b.ReportAllocs()
	b.SetBytes(1024)
	for b.Loop() {
		d.Runs = d.Runs[:0]
		_ = AppendDiff(&d, old, new)
	}
	if len(d.Runs) != 8 {
		b.Fatalf("%d runs", len(d.Runs))
	}
}

// BenchmarkMerge merges two normalized 4-run deltas that partly overlap.
func BenchmarkMerge(b *testing.B) {
	a := &Delta{Page: 1, Runs: []Run{{0, seq(0, 16)}, {100, seq(0, 16)}, {200, seq(0, 16)}, {300, seq(0, 16)}}}
	c := &Delta{Page: 1, Runs: []Run{{8, seq(0, 16)}, {116, seq(0, 16)}, {250, seq(0, 16)}, {310, seq(0, 16)}}}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Merge(a, c)
	}
}
