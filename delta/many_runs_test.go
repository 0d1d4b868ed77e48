package delta

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestPropManyRunsMatchModel draws deltas of more unsorted, overlapping
// runs than resolveRuns inserts one by one (insertRunsMax), so that
// resolveSweep resolves them, and requires Normalize, Ranges, WrittenBytes
// and Merge to agree with the byte model (later runs win). Runs may be
// empty, and some end at the last position a uint32 offset names.
func TestPropManyRunsMatchModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(1, 400).Draw(t, "size")
		n := rapid.IntRange(insertRunsMax+1, 4*insertRunsMax).Draw(t, "nruns")
		d := &Delta{Page: 1}
		for range n {
			off := rapid.IntRange(0, size-1).Draw(t, "off")
			ln := rapid.IntRange(0, min(size-off, 40)).Draw(t, "len")
			d.Runs = append(d.Runs, Run{Offset: uint32(off), Data: rapid.SliceOfN(rapid.Byte(), ln, ln).Draw(t, "data")})
		}
		if runsSorted(d.Runs) {
			t.Skip("drew sorted runs")
		}
		want := model(d, size)
		nd := Normalize(d)
		checkNormalized(t, &nd)
		effectEqual(t, "normalize", model(&nd, size), want)
		var ranges []int
		Ranges(d, func(off, n uint32) { ranges = append(ranges, int(off), int(n)) })
		var wantRanges []int
		written := 0
		for i := 0; i < size; {
			if want[i] < 0 {
				i++
				continue
			}
			j := i
			for j < size && want[j] >= 0 {
				j++
			}
			wantRanges = append(wantRanges, i, j-i)
			written += j - i
			i = j
		}
		if !slices.Equal(ranges, wantRanges) {
			t.Fatalf("Ranges = %v, want %v", ranges, wantRanges)
		}
		if got := WrittenBytes(d); got != written {
			t.Fatalf("WrittenBytes = %d, want %d", got, written)
		}
		m := mustMerge(t, d, d)
		effectEqual(t, "merge with itself", model(&m, size), want)
	})
}

// TestManyDescendingRunsResolve resolves a delta of 2^18 one-byte runs in
// descending offset order (valid, and about 1.3 MiB encoded: well within a
// log record) and checks the result. Inserting each run into a sorted
// list made this quadratic: minutes of CPU for this delta, hours for one
// of a million runs, in every Ranges, Normalize or Merge of it (a
// provenance query over its record, say).
func TestManyDescendingRunsResolve(t *testing.T) {
	const n = 1 << 18
	d := &Delta{Page: 1, Runs: make([]Run, 0, n)}
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	for i := n - 1; i >= 0; i-- {
		d.Runs = append(d.Runs, Run{Offset: uint32(2 * i), Data: data[i : i+1]})
	}
	// The last run overwrites the first byte the first one wrote.
	d.Runs = append(d.Runs, Run{Offset: 2 * (n - 1), Data: []byte{0xee}})
	if err := Validate(d, 2*n); err != nil {
		t.Fatal(err)
	}
	ranges := 0
	Ranges(d, func(off, ln uint32) {
		if off != uint32(2*ranges) || ln != 1 {
			t.Fatalf("range %d is [%d,+%d), want [%d,+1)", ranges, off, ln, 2*ranges)
		}
		ranges++
	})
	if ranges != n {
		t.Fatalf("%d ranges, want %d", ranges, n)
	}
	nd := Normalize(d)
	if len(nd.Runs) != n {
		t.Fatalf("Normalize gave %d runs, want %d", len(nd.Runs), n)
	}
	for i, r := range nd.Runs {
		want := byte(i)
		if i == n-1 {
			want = 0xee
		}
		if r.Offset != uint32(2*i) || len(r.Data) != 1 || r.Data[0] != want {
			t.Fatalf("run %d = {%d %v}, want {%d [%d]}", i, r.Offset, r.Data, 2*i, want)
		}
	}
}
