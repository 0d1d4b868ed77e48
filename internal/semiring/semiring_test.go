package semiring

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// checkLaws verifies the semiring axioms on drawn values; eq compares
// elements (exact equality: generators only produce exactly
// representable values).
func checkLaws[T comparable](t *rapid.T, s Semiring[T], gen *rapid.Generator[T]) {
	a, b, c := gen.Draw(t, "a"), gen.Draw(t, "b"), gen.Draw(t, "c")
	if broken := brokenLaws(s, a, b, c); len(broken) > 0 {
		t.Fatalf("%s: %s (a=%v b=%v c=%v)", s.Name(), strings.Join(broken, "; "), a, b, c)
	}
}

// brokenLaws returns the semiring laws that a, b and c break in s, each
// with the values compared (none: every law holds for them).
func brokenLaws[T comparable](s Semiring[T], a, b, c T) []string {
	z, o := s.Zero(), s.One()
	var broken []string
	check := func(law string, got, want T) {
		if got != want {
			broken = append(broken, fmt.Sprintf("%s: got %v want %v", law, got, want))
		}
	}
	check("⊕ associative", s.Add(s.Add(a, b), c), s.Add(a, s.Add(b, c)))
	check("⊕ commutative", s.Add(a, b), s.Add(b, a))
	check("⊕ identity", s.Add(a, z), a)
	check("⊕ identity left", s.Add(z, a), a)
	check("⊗ associative", s.Mul(s.Mul(a, b), c), s.Mul(a, s.Mul(b, c)))
	check("⊗ identity", s.Mul(a, o), a)
	check("⊗ identity left", s.Mul(o, a), a)
	check("zero annihilates", s.Mul(a, z), z)
	check("zero annihilates left", s.Mul(z, a), z)
	check("left distributive", s.Mul(a, s.Add(b, c)), s.Add(s.Mul(a, b), s.Mul(a, c)))
	check("right distributive", s.Mul(s.Add(a, b), c), s.Add(s.Mul(a, c), s.Mul(b, c)))
	return broken
}

// smallFloat draws small integers (exact under + and ×) and, for the
// tropical semirings, their zero.
func smallFloat(extra float64) *rapid.Generator[float64] {
	return rapid.Custom(func(t *rapid.T) float64 {
		if rapid.IntRange(0, 9).Draw(t, "special") == 0 {
			return extra
		}
		return float64(rapid.IntRange(-1000, 1000).Draw(t, "v"))
	})
}

func TestSemiringLaws(t *testing.T) {
	t.Run("boolean", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { checkLaws[bool](t, Boolean{}, rapid.Bool()) })
	})
	t.Run("min-plus", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { checkLaws[float64](t, MinPlus{}, smallFloat(math.Inf(1))) })
	})
	t.Run("max-plus", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { checkLaws[float64](t, MaxPlus{}, smallFloat(math.Inf(-1))) })
	})
	t.Run("real", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) { checkLaws[float64](t, Real{}, smallFloat(0)) })
	})
	t.Run("int", func(t *testing.T) {
		// Wrapping arithmetic: every int64 works, overflow included.
		rapid.Check(t, func(t *rapid.T) { checkLaws[int64](t, Int{}, rapid.Int64()) })
	})
}

func TestElemRoundTrip(t *testing.T) {
	b := make([]byte, 24)
	PutF64(b, 2, -1.5)
	PutI64(b, 0, -7)
	if F64At(b, 2) != -1.5 || I64At(b, 0) != -7 {
		t.Fatal("f64/i64 round trip")
	}
	if b[0] != 0xf9 || b[7] != 0xff {
		t.Fatalf("int64 not little-endian: % x", b[:8])
	}
	PutBool(b, 9, true)
	if !BoolAt(b, 9) || b[9] != 1 {
		t.Fatal("bool")
	}
	PutBool(b, 9, false)
	if BoolAt(b, 9) || b[9] != 0 {
		t.Fatal("bool false")
	}
	if got := AppendBool(nil, true, false); len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatal("AppendBool")
	}
	if got := AppendI64(nil, 1, 2); I64At(got, 1) != 2 {
		t.Fatal("AppendI64")
	}
}

// slowReal hides Real's type so Combine takes the generic loop.
type slowReal struct{ Real }
type slowMin struct{ MinPlus }
type slowMax struct{ MaxPlus }

func TestCombineFastPathMatchesGeneric(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		val := rapid.Custom(func(t *rapid.T) float64 {
			switch rapid.IntRange(0, 12).Draw(t, "kind") {
			case 0:
				return math.Inf(1)
			case 1:
				return math.Inf(-1)
			case 2:
				return math.NaN()
			case 3:
				return math.Copysign(0, -1)
			}
			return rapid.Float64().Draw(t, "f")
		})
		k := rapid.IntRange(0, 4).Draw(t, "parents")
		inputs := make([][]byte, k)
		for i := range inputs {
			inputs[i] = AppendF64(nil, rapid.SliceOfN(val, 0, 6).Draw(t, "in")...)
		}
		var weights []byte
		if rapid.Bool().Draw(t, "weighted") {
			weights = AppendF64([]byte{}, rapid.SliceOfN(val, k, k).Draw(t, "w")...)
		}
		out := make([]byte, 8*rapid.IntRange(0, 6).Draw(t, "out"))
		fast, slow := make([]byte, len(out)), make([]byte, len(out))
		pairs := []struct{ fast, slow Semiring[float64] }{{Real{}, slowReal{}}, {MinPlus{}, slowMin{}}, {MaxPlus{}, slowMax{}}}
		for _, p := range pairs {
			if err := Combine(p.fast, F64{}, fast, inputs, weights); err != nil {
				t.Fatal(err)
			}
			if err := Combine(p.slow, F64{}, slow, inputs, weights); err != nil {
				t.Fatal(err)
			}
			if string(fast) != string(slow) {
				t.Fatalf("%s: fast % x slow % x", p.fast.Name(), fast, slow)
			}
		}
	})
}

// lawbreaker is a semiring over int64 whose operations are given: the
// negative controls of TestSemiringLaws's check.
type lawbreaker struct {
	zero, one int64
	add, mul  func(a, b int64) int64
}

func (l lawbreaker) Zero() int64          { return l.zero }
func (l lawbreaker) One() int64           { return l.one }
func (l lawbreaker) Add(a, b int64) int64 { return l.add(a, b) }
func (l lawbreaker) Mul(a, b int64) int64 { return l.mul(a, b) }
func (l lawbreaker) Name() string         { return "lawbreaker" }

// TestSemiringLawCheckCatchesBrokenLaws: the check TestSemiringLaws runs
// on drawn values fails for a semiring that breaks each law in turn (a
// check that compared nothing passed every built-in semiring), and passes
// the same values on a lawful one (Int, the control).
func TestSemiringLawCheckCatchesBrokenLaws(t *testing.T) {
	add := func(a, b int64) int64 { return a + b }
	mul := func(a, b int64) int64 { return a * b }
	cases := []struct {
		law string
		s   lawbreaker
	}{
		{"⊕ associative", lawbreaker{0, 1, func(a, b int64) int64 { return a - b }, mul}},
		{"⊕ commutative", lawbreaker{0, 1, func(a, b int64) int64 { return a + 2*b }, mul}},
		{"⊕ identity", lawbreaker{1, 1, add, mul}},
		{"⊕ identity left", lawbreaker{0, 1, func(a, b int64) int64 { return a + 2*b }, mul}},
		{"⊗ identity left", lawbreaker{0, 1, add, func(a, b int64) int64 { return a * b * b }}},
		{"zero annihilates left", lawbreaker{0, 1, add, func(a, b int64) int64 { return a*b + b }}},
		{"⊗ associative", lawbreaker{0, 1, add, func(a, b int64) int64 { return a*b + a }}},
		{"⊗ identity", lawbreaker{0, 2, add, mul}},
		{"zero annihilates", lawbreaker{0, 1, func(a, b int64) int64 { return max(a, b) }, add}},
		{"left distributive", lawbreaker{0, 1, add, func(a, b int64) int64 { return a*b + 1 }}},
		{"right distributive", lawbreaker{0, 1, add, func(a, b int64) int64 { return a * a * b }}},
	}
	const a, b, c = 2, 3, 5
	for _, tc := range cases {
		broken := brokenLaws[int64](tc.s, a, b, c)
		found := false
		for _, l := range broken {
			found = found || strings.HasPrefix(l, tc.law+":")
		}
		if !found {
			t.Errorf("a semiring that breaks %q passed it with a=%d b=%d c=%d (broken: %v)", tc.law, a, b, c, broken)
		}
	}
	if broken := brokenLaws[int64](Int{}, a, b, c); len(broken) > 0 {
		t.Fatalf("Int breaks %v with a=%d b=%d c=%d", broken, a, b, c)
	}
}
