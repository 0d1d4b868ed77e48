package semiring

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func f64s(vs ...float64) []byte { return AppendF64(nil, vs...) }
func i64s(vs ...int64) []byte   { return AppendI64(nil, vs...) }
func bools(vs ...int) []byte {
	b := make([]byte, len(vs))
	for i, v := range vs {
		b[i] = byte(v)
	}
	return b
}

func ins(bs ...[]byte) [][]byte { return bs }

func mustFn(t testing.TB, name string) Func {
	t.Helper()
	fn, ok := Lookup(name)
	if !ok {
		t.Fatalf("no builtin %q", name)
	}
	return fn
}

var inf = math.Inf(1)

func TestBuiltinsSortedAndDocumented(t *testing.T) {
	bs := Builtins()
	if !slices.IsSortedFunc(bs, func(a, b Builtin) int {
		return bytes.Compare([]byte(a.Name), []byte(b.Name))
	}) {
		t.Fatal("Builtins not sorted by name")
	}
	for i, b := range bs {
		if b.Fn == nil || b.Doc == "" || (i > 0 && bs[i-1].Name == b.Name) {
			t.Fatalf("builtin %q: missing fn/doc or duplicate", b.Name)
		}
		if fn, ok := Lookup(b.Name); !ok || fn == nil {
			t.Fatalf("Lookup(%q)", b.Name)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Fatal("Lookup found an unknown name")
	}
	bs[0].Name = "mutated"
	if Builtins()[0].Name == "mutated" {
		t.Fatal("Builtins shares its slice")
	}
}

func TestBuiltins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fn     string
		inputs [][]byte
		params []byte
		outLen int
		want   []byte
	}{
		{"or", "bool.or", ins(bools(1, 0, 0), bools(0, 0, 1)), nil, 3, bools(1, 0, 1)},
		{"or no parents", "bool.or", nil, nil, 2, bools(0, 0)},
		{"or short input", "bool.or", ins(bools(1), bools(0, 1, 0)), nil, 3, bools(1, 1, 0)},
		{"reach", "bool.reach", ins(bools(1, 0), bools(0, 1)), bools(0, 1), 2, bools(0, 1)},
		{"min", "f64.min", ins(f64s(3, 1), f64s(2, 5)), nil, 16, f64s(2, 1)},
		{"min none", "f64.min", nil, nil, 8, f64s(inf)},
		{"max", "f64.max", ins(f64s(3, 1), f64s(2, 5)), nil, 16, f64s(3, 5)},
		{"sum", "f64.sum", ins(f64s(1, 2), f64s(10, 20), f64s(100)), nil, 16, f64s(111, 22)},
		{"sum longer out", "f64.sum", ins(f64s(1)), nil, 16, f64s(1, 0)},
		{"i64 sum", "i64.sum", ins(i64s(1, -2), i64s(math.MaxInt64, 5)), nil, 16, i64s(math.MinInt64, 3)},
		{"minplus", "f64.minplus", ins(f64s(0, inf), f64s(4, 1)), f64s(2, 3), 16, f64s(2, 4)},
		{"maxplus", "f64.maxplus", ins(f64s(0, 7), f64s(4, 1)), f64s(2, 3), 16, f64s(7, 9)},
		{"weighted", "f64.weighted", ins(f64s(1, 2), f64s(3, 4)), f64s(0.5, 2), 16, f64s(6.5, 9)},
		{"pass raw", "passthrough", ins([]byte{1, 2, 3}), nil, 5, []byte{1, 2, 3, 0, 0}},
		{"pass raw trunc", "passthrough", ins([]byte{1, 2, 3}), nil, 2, []byte{1, 2}},
		{"pass copy", "passthrough", ins(f64s(1, 2)), PassthroughParams(TransformCopy), 24, f64s(1, 2, 0)},
		{"pass scale", "passthrough", ins(f64s(1, -2)), PassthroughParams(TransformScale, 3), 16, f64s(3, -6)},
		{"pass offset", "passthrough", ins(f64s(1, -2)), PassthroughParams(TransformOffset, 0.5), 8, f64s(1.5)},
		{"pass affine", "passthrough", ins(f64s(1, -2)), PassthroughParams(TransformAffine, 2, 1), 16, f64s(3, -3)},
		{"pass relu", "passthrough", ins(f64s(1, -2)), PassthroughParams(TransformReLU), 16, f64s(1, 0)},
		{"pass clamp", "passthrough", ins(f64s(-5, 0.5, 5)), PassthroughParams(TransformClamp, -1, 1), 24, f64s(-1, 0.5, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := bytes.Repeat([]byte{0xAA}, tc.outLen) // stale content must not leak
			snapshot := make([][]byte, len(tc.inputs))
			for i, in := range tc.inputs {
				snapshot[i] = slices.Clone(in)
			}
			if err := mustFn(t, tc.fn)(tc.inputs, tc.params, out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.want) {
				t.Fatalf("out % x\nwant % x", out, tc.want)
			}
			for i := range tc.inputs {
				if !bytes.Equal(tc.inputs[i], snapshot[i]) {
					t.Fatalf("input %d modified", i)
				}
			}
		})
	}
}

func TestBuiltinsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fn     string
		inputs [][]byte
		params []byte
		outLen int
	}{
		{"f64 ragged input", "f64.sum", ins(make([]byte, 9)), nil, 8},
		{"f64 ragged out", "f64.min", ins(f64s(1)), nil, 7},
		{"i64 ragged input", "i64.sum", ins(make([]byte, 4)), nil, 8},
		{"unexpected params", "f64.sum", ins(f64s(1)), []byte{0}, 8},
		{"unexpected params or", "bool.or", ins(bools(1)), []byte{1}, 1},
		{"bool not 0/1", "bool.or", ins(bools(2)), nil, 1},
		{"bool weight not 0/1", "bool.reach", ins(bools(1)), bools(3), 1},
		{"weights missing", "f64.minplus", ins(f64s(1), f64s(2)), nil, 8},
		{"weights short", "f64.minplus", ins(f64s(1), f64s(2)), f64s(1), 8},
		{"weights long", "f64.weighted", ins(f64s(1)), f64s(1, 2), 8},
		{"weights ragged", "f64.maxplus", ins(f64s(1)), make([]byte, 7), 8},
		{"reach weights short", "bool.reach", ins(bools(1), bools(1)), bools(1), 1},
		{"pass no input", "passthrough", nil, nil, 8},
		{"pass two inputs", "passthrough", ins(f64s(1), f64s(2)), nil, 8},
		{"pass unknown op", "passthrough", ins(f64s(1)), []byte{99}, 8},
		{"pass missing arg", "passthrough", ins(f64s(1)), PassthroughParams(TransformAffine, 1), 8},
		{"pass extra arg", "passthrough", ins(f64s(1)), PassthroughParams(TransformReLU, 1), 8},
		{"pass ragged f64", "passthrough", ins(make([]byte, 3)), PassthroughParams(TransformScale, 1), 8},
		{"pass clamp reversed", "passthrough", ins(f64s(1)), PassthroughParams(TransformClamp, 2, 1), 8},
		{"pass clamp NaN", "passthrough", ins(f64s(1)), PassthroughParams(TransformClamp, math.NaN(), 1), 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mustFn(t, tc.fn)(tc.inputs, tc.params, make([]byte, tc.outLen))
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("want ErrBadInput, got %v", err)
			}
			t.Log(err)
		})
	}
}

func TestBuiltinsNoAllocs(t *testing.T) {
	a, b := f64s(1, 2, 3, 4), f64s(5, 6, 7, 8)
	out := make([]byte, 32)
	w := f64s(1, 2)
	bo := make([]byte, 4)
	for _, tc := range []struct {
		fn     string
		inputs [][]byte
		params []byte
		out    []byte
	}{
		{"f64.sum", ins(a, b), nil, out},
		{"f64.min", ins(a, b), nil, out},
		{"f64.max", ins(a, b), nil, out},
		{"i64.sum", ins(a, b), nil, out},
		{"f64.minplus", ins(a, b), w, out},
		{"f64.maxplus", ins(a, b), w, out},
		{"f64.weighted", ins(a, b), w, out},
		{"bool.or", ins(bools(1, 0, 0, 1), bools(0, 0, 1, 1)), nil, bo},
		{"bool.reach", ins(bools(1, 0, 0, 1), bools(0, 0, 1, 1)), bools(1, 0), bo},
		{"passthrough", ins(a), nil, out},
		{"passthrough", ins(a), PassthroughParams(TransformClamp, 0, 2), out},
	} {
		fn := mustFn(t, tc.fn)
		if n := testing.AllocsPerRun(50, func() {
			if err := fn(tc.inputs, tc.params, tc.out); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s allocates %v per call", tc.fn, n)
		}
	}
}

// TestOutputAliasesInput: Combine reads element j of every input before
// writing out[j], so an in-place update of a parent page is well defined.
func TestOutputAliasesInput(t *testing.T) {
	a := f64s(1, 2)
	if err := mustFn(t, "f64.sum")(ins(a, f64s(10, 20)), nil, a); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, f64s(11, 22)) {
		t.Fatalf("aliased sum % x", a)
	}
}

// edge is a weighted edge of the example graphs below.
type edge struct {
	from, to int
	w        float64
}

// propagate computes every node's page from its parents in topological
// order (nodes are numbered topologically), the way the propagation
// engine drives recompute functions. Sources keep their initial page.
func propagate(t *testing.T, fn Func, n int, edges []edge, init [][]byte, weight func(edge) []byte) [][]byte {
	pages := make([][]byte, n)
	copy(pages, init)
	for v := 0; v < n; v++ {
		var inputs [][]byte
		var params []byte
		for _, e := range edges {
			if e.to == v {
				inputs = append(inputs, pages[e.from])
				params = append(params, weight(e)...)
			}
		}
		if len(inputs) == 0 {
			continue
		}
		out := make([]byte, len(pages[0]))
		if err := fn(inputs, params, out); err != nil {
			t.Fatal(err)
		}
		pages[v] = out
	}
	return pages
}

// Node j of page i says "i is reachable from source j"; the example DAG is
// 0->1, 0->2, 1->3, 2->3, 4->3, 3->5 with sources 0 and 4, and the edge
// 2->3 switched off by its weight.
func TestReachabilityMatchesBFS(t *testing.T) {
	edges := []edge{{0, 1, 1}, {0, 2, 1}, {1, 3, 1}, {2, 3, 0}, {4, 3, 1}, {3, 5, 1}, {2, 6, 1}}
	const n = 7
	init := make([][]byte, n)
	for v := range init {
		init[v] = make([]byte, n)
	}
	init[0][0], init[4][4] = 1, 1
	// propagate walks 0..n-1; node 4 is a source, so its page is never
	// recomputed and its place in the walk does not matter.
	pages := propagate(t, mustFn(t, "bool.reach"), n, edges, init, func(e edge) []byte { return bools(int(e.w)) })
	for _, src := range []int{0, 4} {
		reach := map[int]bool{src: true}
		queue := []int{src}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, e := range edges {
				if e.from == v && e.w != 0 && !reach[e.to] {
					reach[e.to] = true
					queue = append(queue, e.to)
				}
			}
		}
		for v := 0; v < n; v++ {
			if got := BoolAt(pages[v], src); got != reach[v] {
				t.Errorf("node %d reachable from %d: got %v want %v", v, src, got, reach[v])
			}
		}
	}
}

func TestShortestDistancesMatchBellmanFord(t *testing.T) {
	// Nodes are numbered topologically; 0 and 5 are the sources (no
	// parents), and each page holds one distance per source.
	edges := []edge{{0, 1, 1}, {1, 2, 2}, {0, 2, 4}, {2, 3, 5}, {1, 3, 8}, {3, 4, 3}, {1, 4, 20}, {5, 3, 1}, {5, 6, 2}, {4, 6, 0.5}}
	const n = 7
	sources := []int{0, 5}
	init := make([][]byte, n)
	for v := range init {
		init[v] = make([]byte, 8*len(sources))
		for j, s := range sources {
			d := inf
			if s == v {
				d = 0
			}
			PutF64(init[v], j, d)
		}
	}
	pages := propagate(t, mustFn(t, "f64.minplus"), n, edges, init, func(e edge) []byte { return f64s(e.w) })
	for j, s := range sources {
		dist := make([]float64, n)
		for v := range dist {
			dist[v] = inf
		}
		dist[s] = 0
		for range n - 1 {
			for _, e := range edges {
				if dist[e.from]+e.w < dist[e.to] {
					dist[e.to] = dist[e.from] + e.w
				}
			}
		}
		for v := 0; v < n; v++ {
			if got := F64At(pages[v], j); got != dist[v] {
				t.Errorf("dist from %d to %d: got %v want %v", s, v, got, dist[v])
			}
		}
	}
}

func FuzzBuiltins(f *testing.F) {
	f.Add(uint8(0), []byte{1, 0, 1}, []byte{0, 1, 1}, []byte{}, uint16(3))
	f.Add(uint8(5), f64s(1, 2), f64s(3, 4), f64s(1, 2), uint16(16))
	f.Add(uint8(9), f64s(-1, 2), []byte{}, PassthroughParams(TransformClamp, 0, 1), uint16(16))
	f.Add(uint8(9), f64s(math.NaN()), []byte{}, PassthroughParams(TransformAffine, inf, -inf), uint16(8))
	f.Fuzz(func(t *testing.T, which uint8, a, b, params []byte, outLen uint16) {
		bs := Builtins()
		fn := bs[int(which)%len(bs)]
		inputs := ins(a, b)
		if which&0x80 != 0 {
			inputs = inputs[:1]
		}
		ca, cb := slices.Clone(a), slices.Clone(b)
		out := make([]byte, int(outLen)%4096)
		out2 := make([]byte, len(out))
		err := fn.Fn(inputs, params, out)
		if err != nil && !errors.Is(err, ErrBadInput) {
			t.Fatalf("%s: error not wrapping ErrBadInput: %v", fn.Name, err)
		}
		if !bytes.Equal(a, ca) || !bytes.Equal(b, cb) {
			t.Fatalf("%s modified its inputs", fn.Name)
		}
		// Purity: a second run into a differently pre-filled buffer gives
		// the same bytes.
		for i := range out2 {
			out2[i] = 0x5A
		}
		err2 := fn.Fn(inputs, params, out2)
		if (err == nil) != (err2 == nil) || (err == nil && !bytes.Equal(out, out2)) {
			t.Fatalf("%s not deterministic: %v / %v", fn.Name, err, err2)
		}
	})
}

func TestNaNIsCanonical(t *testing.T) {
	weird := math.Float64frombits(0xFFF0000000000123) // negative NaN with a payload
	out := make([]byte, 8)
	for _, tc := range []struct {
		fn     string
		inputs [][]byte
		params []byte
	}{
		{"f64.sum", ins(f64s(weird)), nil},
		{"f64.weighted", ins(f64s(inf), f64s(1)), f64s(0, weird)},
		{"passthrough", ins(f64s(weird)), PassthroughParams(TransformScale, 2)},
	} {
		if err := mustFn(t, tc.fn)(tc.inputs, tc.params, out); err != nil {
			t.Fatal(err)
		}
		if bits := math.Float64bits(F64At(out, 0)); bits != CanonicalNaN {
			t.Errorf("%s: NaN bits %#x", tc.fn, bits)
		}
	}
	if err := Combine[float64](slowReal{}, F64{}, out, ins(f64s(weird)), nil); err != nil || math.Float64bits(F64At(out, 0)) != CanonicalNaN {
		t.Errorf("generic Combine NaN bits %#x", math.Float64bits(F64At(out, 0)))
	}
}

// TestProductsAreRoundedBeforeSums: every product is rounded to float64
// before it is added, on every platform. The Go spec lets a compiler fuse
// x*y + z into one fused multiply-add (one rounding instead of two), and
// arm64, ppc64 and s390x do, as does amd64 built with GOAMD64=v3: the same
// binding then computed different bytes on different machines, and a
// replay or purity check on one disagreed with a log written on another.
// The values make the two differ: (1+2⁻³⁰)² = 1 + 2⁻²⁹ + 2⁻⁶⁰ rounds to
// 1 + 2⁻²⁹, so the separately rounded sum is 0 and the fused one 2⁻⁶⁰.
// Run under GOARCH=arm64 (qemu-aarch64) to see it fail without the
// explicit conversions.
func TestProductsAreRoundedBeforeSums(t *testing.T) {
	x := 1 + math.Ldexp(1, -30)
	y := -(1 + math.Ldexp(1, -29))
	for _, tc := range []struct {
		name   string
		fn     string
		inputs [][]byte
		params []byte
	}{
		{"weighted", "f64.weighted", ins(f64s(y), f64s(x)), f64s(1, x)},
		{"affine", "passthrough", ins(f64s(x)), PassthroughParams(TransformAffine, x, y)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]byte, 8)
			if err := mustFn(t, tc.fn)(tc.inputs, tc.params, out); err != nil {
				t.Fatal(err)
			}
			if got := F64At(out, 0); got != 0 {
				t.Fatalf("%s = %g, want 0: the product was fused into the sum (one rounding), so the result depends on the platform", tc.fn, got)
			}
		})
	}
	var acc float64
	for _, v := range []float64{y, Real{}.Mul(x, x)} {
		acc = Real{}.Add(acc, v)
	}
	if acc != 0 {
		t.Fatalf("Real: y + x*x = %g, want 0", acc)
	}
}
