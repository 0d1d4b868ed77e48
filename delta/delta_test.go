package delta

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// model computes d's effect naively, one byte at a time: -1 for a byte d
// does not write, else the value written. It is the oracle the fast paths
// are checked against.
func model(d *Delta, size int) []int {
	eff := make([]int, size)
	for i := range eff {
		eff[i] = -1
	}
	switch d.Form {
	case FormRuns:
		for _, r := range d.Runs {
			for i, b := range r.Data {
				eff[int(r.Offset)+i] = int(b)
			}
		}
	case FormMaskedDense, FormMaskedSparse:
		p := 0
		for i := 0; i < int(d.MaskLen); i++ {
			if d.Mask[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			if d.Form == FormMaskedDense {
				eff[i] = int(d.Payload[i])
			} else {
				eff[i] = int(d.Payload[p])
				p++
			}
		}
	}
	return eff
}

// applyModel applies an effect to page.
func applyModel(eff []int, page []byte) {
	for i, v := range eff {
		if v >= 0 {
			page[i] = byte(v)
		}
	}
}

func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

func runs(rs ...Run) *Delta { return &Delta{Page: 7, Runs: rs} }

func TestValidate(t *testing.T) {
	const ps = 100
	tests := []struct {
		name string
		d    *Delta
		want error
	}{
		{"one run", runs(Run{0, seq(0, 4)}), nil},
		{"run to page end", runs(Run{96, seq(0, 4)}), nil},
		{"overlapping unsorted runs", runs(Run{10, seq(0, 4)}, Run{8, seq(0, 4)}), nil},
		{"whole page", runs(Run{0, seq(0, ps)}), nil},
		{"no runs", runs(), ErrEmpty},
		{"all runs empty", runs(Run{0, nil}, Run{5, []byte{}}), ErrEmpty},
		{"one empty run", runs(Run{0, seq(0, 2)}, Run{5, nil}), ErrMalformed},
		{"run past end", runs(Run{97, seq(0, 4)}), ErrOutOfRange},
		{"offset past end", runs(Run{200, seq(0, 1)}), ErrOutOfRange},
		{"uint32 wrap", runs(Run{^uint32(0), seq(0, 2)}), ErrOutOfRange},
		{"unknown form", &Delta{Form: 3}, ErrMalformed},
		{"dense ok", &Delta{Form: FormMaskedDense, MaskLen: 10, Mask: []byte{0x01, 0x02}, Payload: seq(0, 10)}, nil},
		{"dense stray bits past MaskLen ignored", &Delta{Form: FormMaskedDense, MaskLen: 9, Mask: []byte{0x01, 0xfe}, Payload: seq(0, 9)}, nil},
		{"dense long mask slice ok", &Delta{Form: FormMaskedDense, MaskLen: 8, Mask: []byte{0x01, 0xff}, Payload: seq(0, 8)}, nil},
		{"sparse ok", &Delta{Form: FormMaskedSparse, MaskLen: 10, Mask: []byte{0x81, 0x02}, Payload: seq(0, 3)}, nil},
		{"masked len 0", &Delta{Form: FormMaskedDense}, ErrEmpty},
		{"mask too short", &Delta{Form: FormMaskedDense, MaskLen: 9, Mask: []byte{1}, Payload: seq(0, 9)}, ErrSizeMismatch},
		{"mask all zero", &Delta{Form: FormMaskedSparse, MaskLen: 9, Mask: []byte{0, 0}}, ErrEmpty},
		{"mask bit only past MaskLen", &Delta{Form: FormMaskedSparse, MaskLen: 9, Mask: []byte{0, 2}, Payload: seq(0, 1)}, ErrEmpty},
		{"dense payload short", &Delta{Form: FormMaskedDense, MaskLen: 8, Mask: []byte{1}, Payload: seq(0, 7)}, ErrSizeMismatch},
		{"dense payload long", &Delta{Form: FormMaskedDense, MaskLen: 8, Mask: []byte{1}, Payload: seq(0, 9)}, ErrSizeMismatch},
		{"sparse payload mismatch", &Delta{Form: FormMaskedSparse, MaskLen: 8, Mask: []byte{3}, Payload: seq(0, 1)}, ErrSizeMismatch},
		{"mask longer than page", &Delta{Form: FormMaskedSparse, MaskLen: ps + 1, Mask: make([]byte, 13), Payload: nil}, ErrOutOfRange},
		{"mask as long as page", &Delta{Form: FormMaskedSparse, MaskLen: ps, Mask: append(make([]byte, 12), 0x08), Payload: seq(0, 1)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.d, ps)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidateNegativePageSize(t *testing.T) {
	if err := Validate(runs(Run{0, seq(0, 1)}), -1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("got %v", err)
	}
}

// maskedCases are valid deltas of every form over a 200-byte page, chosen to
// cross 64-bit word boundaries.
func formCases() map[string]*Delta {
	dense := mustMasked(ToMaskedDense(runs(Run{60, seq(1, 10)}, Run{128, seq(50, 64)}, Run{199, []byte{9}}), 200))
	sparse := mustMasked(ToMaskedSparse(&dense, 200))
	return map[string]*Delta{
		"runs sorted":   runs(Run{0, seq(1, 3)}, Run{3, seq(9, 2)}, Run{100, seq(5, 20)}),
		"runs overlap":  runs(Run{10, seq(1, 30)}, Run{5, seq(100, 10)}, Run{20, seq(200, 3)}, Run{0, seq(7, 200)}, Run{150, seq(3, 4)}),
		"runs one byte": runs(Run{199, []byte{42}}),
		"dense":         &dense,
		"sparse":        &sparse,
		"dense full words": {Form: FormMaskedDense, MaskLen: 192,
			Mask: append(bytes.Repeat([]byte{0xff}, 16), 0x0f, 0, 0, 0, 0, 0, 0, 0x80), Payload: seq(3, 192)},
	}
}

func TestApplyMatchesModel(t *testing.T) {
	for name, d := range formCases() {
		t.Run(name, func(t *testing.T) {
			if err := Validate(d, 200); err != nil {
				t.Fatal(err)
			}
			got := bytes.Repeat([]byte{0xee}, 200)
			want := slices.Clone(got)
			if err := Apply(d, got); err != nil {
				t.Fatal(err)
			}
			eff := model(d, 200)
			applyModel(eff, want)
			if !bytes.Equal(got, want) {
				t.Fatalf("Apply:\n got %v\nwant %v", got, want)
			}
			n := 0
			for _, v := range eff {
				if v >= 0 {
					n++
				}
			}
			if w := WrittenBytes(d); w != n {
				t.Fatalf("WrittenBytes = %d, want %d", w, n)
			}
			// Ranges must report maximal ranges, ascending, covering
			// exactly the written bytes.
			var got2 [][2]uint32
			Ranges(d, func(off, n uint32) { got2 = append(got2, [2]uint32{off, n}) })
			var want2 [][2]uint32
			for i := 0; i < 200; i++ {
				if eff[i] < 0 {
					continue
				}
				j := i
				for j < 200 && eff[j] >= 0 {
					j++
				}
				want2 = append(want2, [2]uint32{uint32(i), uint32(j - i)})
				i = j
			}
			if !slices.Equal(got2, want2) {
				t.Fatalf("Ranges = %v, want %v", got2, want2)
			}
			// Normalize and both conversions keep the effect.
			norm := Normalize(d)
			checkNormalized(t, &norm)
			dd := mustMasked(ToMaskedDense(d, 200))
			sp := mustMasked(ToMaskedSparse(d, 200))
			for what, c := range map[string]*Delta{"normalized": &norm, "dense": &dd, "sparse": &sp} {
				if err := Validate(c, 200); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !slices.Equal(model(c, 200), eff) {
					t.Fatalf("%s changes the effect", what)
				}
				if c.Page != d.Page {
					t.Fatalf("%s lost the page id", what)
				}
			}
		})
	}
}

// checkNormalized fails t unless d is in canonical form.
func checkNormalized(t interface {
	Helper()
	Fatalf(format string, args ...any)
}, d *Delta) {
	t.Helper()
	if d.Form != FormRuns {
		t.Fatalf("normalized form is %d", d.Form)
	}
	if len(d.Runs) == 0 && d.Runs != nil {
		t.Fatalf("empty normalized delta has non-nil runs")
	}
	var prevEnd int64 = -1
	for i, r := range d.Runs {
		if len(r.Data) == 0 {
			t.Fatalf("run %d empty", i)
		}
		if int64(r.Offset) <= prevEnd {
			t.Fatalf("run %d at %d not after previous end %d (unsorted, overlapping or not coalesced)", i, r.Offset, prevEnd)
		}
		prevEnd = int64(r.Offset) + int64(len(r.Data))
	}
}

func TestNormalize(t *testing.T) {
	d := runs(Run{4, []byte{1, 1, 1, 1}}, Run{0, []byte{2, 2}}, Run{2, []byte{3, 3, 3}}, Run{20, []byte{5}}, Run{8, []byte{6}})
	d.Source, d.Intent, d.CheckEpoch, d.ExpectEpoch, d.LSN = "api", []byte("x"), true, 3, 9
	got := Normalize(d)
	want := []Run{{0, []byte{2, 2, 3, 3, 3, 1, 1, 1, 6}}, {20, []byte{5}}}
	if !slices.EqualFunc(got.Runs, want, func(a, b Run) bool { return a.Offset == b.Offset && bytes.Equal(a.Data, b.Data) }) {
		t.Fatalf("Normalize = %v, want %v", got.Runs, want)
	}
	if got.Page != 7 || got.Source != "api" || string(got.Intent) != "x" || !got.CheckEpoch || got.ExpectEpoch != 3 || got.LSN != 9 {
		t.Fatalf("metadata not copied: %+v", got)
	}
	// The result owns its data.
	d.Runs[4].Data[0] = 99
	if got.Runs[0].Data[8] != 6 {
		t.Fatal("Normalize result aliases its input")
	}
	if e := Normalize(&Delta{}); e.Runs != nil {
		t.Fatalf("Normalize(empty) = %v", e.Runs)
	}
}

func TestMerge(t *testing.T) {
	a := runs(Run{0, []byte{1, 1, 1, 1}}, Run{10, []byte{1, 1}})
	a.Source, a.CheckEpoch, a.ExpectEpoch = "api", true, 4
	b := runs(Run{2, []byte{2, 2, 2, 2, 2, 2, 2, 2, 2}}, Run{20, []byte{2}})
	b.Source = "propagation"
	got := mustMerge(t, a, b)
	want := []Run{{0, []byte{1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1}}, {20, []byte{2}}}
	if !slices.EqualFunc(got.Runs, want, func(a, b Run) bool { return a.Offset == b.Offset && bytes.Equal(a.Data, b.Data) }) {
		t.Fatalf("Merge = %v, want %v", got.Runs, want)
	}
	if got.Source != "api" || !got.CheckEpoch || got.ExpectEpoch != 4 || got.Page != 7 {
		t.Fatalf("metadata not from a: %+v", got)
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new []byte
		want     []Run
	}{
		{"equal", seq(0, 40), seq(0, 40), nil},
		{"empty", nil, nil, nil},
		{"all differ", seq(0, 20), seq(1, 20), []Run{{0, seq(1, 20)}}},
		{"first and last", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 1}, []Run{{0, []byte{1}}, {9, []byte{1}}}},
		{"across words", make([]byte, 40), append(append(make([]byte, 6), seq(1, 20)...), make([]byte, 14)...), []Run{{6, seq(1, 20)}}},
		{"gap of one", make([]byte, 5), []byte{1, 1, 0, 1, 1}, []Run{{0, []byte{1, 1}}, {3, []byte{1, 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Diff(3, tc.old, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			if got.Page != 3 {
				t.Fatalf("page %d", got.Page)
			}
			if !slices.EqualFunc(got.Runs, tc.want, func(a, b Run) bool { return a.Offset == b.Offset && bytes.Equal(a.Data, b.Data) }) {
				t.Fatalf("Diff = %v, want %v", got.Runs, tc.want)
			}
		})
	}
}

// TestHelpersRefuseBadInput pins issue 7 item 3: Diff of unequal lengths
// used to panic, and Merge of deltas to two pages used to write both to the
// first page. Both now return errors naming the problem, and nothing is
// returned that could be committed by mistake.
func TestHelpersRefuseBadInput(t *testing.T) {
	if d, err := Diff(1, make([]byte, 3), make([]byte, 4)); !errors.Is(err, ErrLengthMismatch) || d.Runs != nil {
		t.Fatalf("Diff of 3 and 4 bytes = %+v, %v; want ErrLengthMismatch and no runs", d, err)
	}
	dst := Delta{Runs: []Run{{Offset: 1, Data: []byte{9}}}}
	if err := AppendDiff(&dst, []byte{1}, nil); !errors.Is(err, ErrLengthMismatch) || len(dst.Runs) != 1 {
		t.Fatalf("AppendDiff of unequal lengths: %v, runs %v; want ErrLengthMismatch and dst untouched", err, dst.Runs)
	}
	a := &Delta{Page: 1, Runs: []Run{{Offset: 0, Data: []byte{1}}}}
	b := &Delta{Page: 2, Runs: []Run{{Offset: 4, Data: []byte{2}}}}
	if m, err := Merge(a, b); !errors.Is(err, ErrPageMismatch) || m.Runs != nil {
		t.Fatalf("Merge of pages 1 and 2 = %+v, %v; want ErrPageMismatch and no runs", m, err)
	}
}

// TestToMaskedRefusesUncoveredWrite: a mask shorter than the write is an
// error wrapping ErrOutOfRange (it was a panic), in both forms.
func TestToMaskedRefusesUncoveredWrite(t *testing.T) {
	for name, conv := range map[string]func(*Delta, uint32) (Delta, error){"dense": ToMaskedDense, "sparse": ToMaskedSparse} {
		if _, err := conv(runs(Run{10, seq(0, 4)}), 12); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("%s: err = %v, want ErrOutOfRange", name, err)
		}
	}
}

// mustMasked unwraps a conversion the test built to succeed.
func mustMasked(d Delta, err error) Delta {
	if err != nil {
		panic(err)
	}
	return d
}

// The hot paths must not allocate; these tests are the proof.
func TestAllocs(t *testing.T) {
	page := make([]byte, 4096)
	d16 := runs(Run{100, seq(0, 16)})
	d16.Source = "api"
	dense := mustMasked(ToMaskedDense(runs(Run{60, seq(0, 100)}, Run{300, seq(0, 3)}), 4096))
	sparse := mustMasked(ToMaskedSparse(&dense, 4096))
	buf := make([]byte, 0, 256)
	enc := AppendEncode(nil, d16)
	var dec Delta
	dec.Runs = make([]Run, 0, 4)
	old, new := make([]byte, 4096), make([]byte, 4096)
	for i := 0; i < 4096; i += 100 {
		new[i] = 1
	}
	var diff Delta
	diff.Runs = make([]Run, 0, 64)
	d2 := runs(Run{0, seq(0, 16)}, Run{200, seq(0, 40)})
	var applyErr error
	checks := map[string]func(){
		"Validate runs":   func() { _ = Validate(d16, 4096) },
		"Validate dense":  func() { _ = Validate(&dense, 4096) },
		"Validate sparse": func() { _ = Validate(&sparse, 4096) },
		"Apply runs":      func() { applyErr = Apply(d16, page) },
		"Apply two runs":  func() { applyErr = Apply(d2, page) },
		"Apply dense":     func() { applyErr = Apply(&dense, page) },
		"Apply sparse":    func() { applyErr = Apply(&sparse, page) },
		"Ranges sorted":   func() { Ranges(d16, func(off, n uint32) {}) },
		"Ranges dense":    func() { Ranges(&dense, func(off, n uint32) {}) },
		"WrittenBytes":    func() { _ = WrittenBytes(d16) },
		"AppendEncode":    func() { buf = AppendEncode(buf[:0], d16) },
		"Decode":          func() { _, _ = Decode(enc, &dec) },
		"AppendDiff": func() {
			diff.Runs = diff.Runs[:0]
			_ = AppendDiff(&diff, old, new)
		},
	}
	for name, fn := range checks {
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, a)
		}
	}
	if applyErr != nil {
		t.Fatalf("Apply: %v", applyErr)
	}
	if len(diff.Runs) != 41 {
		t.Fatalf("AppendDiff found %d runs", len(diff.Runs))
	}
}

// TestApplyWordRunsMatchCopy checks Apply's word-move path for runs of 8
// to 16 bytes against copy, for every length around it and every offset
// of a small page, runs reaching the page's end included, and for
// overlapping runs (the later one wins). Negative control (run by hand):
// loading the high word from offset 0 instead of n-8 fails at once.
func TestApplyWordRunsMatchCopy(t *testing.T) {
	const pageSize = 48
	src := make([]byte, 40)
	for i := range src {
		src[i] = byte(0xA0 + i)
	}
	for n := 1; n <= 40; n++ {
		for off := 0; off+n <= pageSize; off++ {
			got, want := make([]byte, pageSize), make([]byte, pageSize)
			second := Run{Offset: uint32(max(0, off-3)), Data: src[1 : 1+min(n, 9)]}
			for _, runs := range [][]Run{{{Offset: uint32(off), Data: src[:n]}}, {{Offset: uint32(off), Data: src[:n]}, second}} {
				for i := range got {
					got[i], want[i] = byte(i), byte(i)
				}
				d := Delta{Page: 1, Runs: runs}
				if err := Apply(&d, got); err != nil {
					t.Fatal(err)
				}
				for _, r := range runs {
					copy(want[r.Offset:], r.Data)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("runs %v:\n got %x\nwant %x", runs, got, want)
				}
			}
		}
	}
}

// TestApplyRunOutOfRange: a run past the page's end is refused and writes
// nothing; its neighbours at the edge are written.
func TestApplyRunOutOfRange(t *testing.T) {
	src := []byte("0123456789abcdefXYZ")
	for _, tc := range []struct {
		off  uint32
		n    int
		want error
	}{
		{0, 16, nil}, {16, 16, nil}, {17, 16, ErrOutOfRange}, {31, 1, nil}, {32, 1, ErrOutOfRange},
		{0, 19, nil}, {14, 19, ErrOutOfRange}, {1 << 31, 8, ErrOutOfRange}, {32, 0, nil}, {33, 0, ErrOutOfRange},
	} {
		page := make([]byte, 32)
		err := ApplyRun(&Run{Offset: tc.off, Data: src[:tc.n]}, page)
		if !errors.Is(err, tc.want) {
			t.Fatalf("offset %d, %d bytes: err %v, want %v", tc.off, tc.n, err, tc.want)
		}
		want := make([]byte, 32)
		if err == nil {
			copy(want[tc.off:], src[:tc.n])
		}
		if !bytes.Equal(page, want) {
			t.Fatalf("offset %d, %d bytes: page %q, want %q", tc.off, tc.n, page, want)
		}
	}
}
