// Package semiring is MMSB's semiring algebra (zero, one, ⊕, ⊗) and the
// built-in library of pure recompute functions over pages declared as typed
// arrays (float64, int64, bool; little-endian), which propagate
// reachability, shortest distances and weighted sums through the graph.
//
// Every function gives the same bytes on every machine: a log written on
// one is replayed and checked on others. The Go spec lets a compiler fuse
// x*y + z, even across statements, into one multiply-add with a single
// rounding, and arm64, ppc64, s390x and amd64 built with GOAMD64=v3 do; so
// every product that is later added is converted with float64(), which
// the spec defines to round and so forbids fusion
// (TestProductsAreRoundedBeforeSums).
package semiring

import "math"

// Semiring is an algebraic structure (S, ⊕, ⊗, 0, 1).
type Semiring[T any] interface {
	Zero() T
	One() T
	Add(a, b T) T // ⊕
	Mul(a, b T) T // ⊗
	Name() string
}

// Func is a recompute function: it computes out (the derived page's bytes,
// pre-filled with the page's current content) from inputs (the parent
// pages' bytes, in binding order) and params (the binding's parameters). It
// must be pure: deterministic, no side effects, inputs untouched, and it
// must not keep inputs or out after it returns. The bus passes private
// copies as inputs, so a function that breaks this cannot change state
// outside the log; it only spoils its own output.
type Func = func(inputs [][]byte, params []byte, out []byte) error

// Boolean is ({false, true}, OR, AND, false, true): reachability.
type Boolean struct{}

// Zero returns false, the identity of OR.
func (Boolean) Zero() bool { return false }

// One returns true, the identity of AND.
func (Boolean) One() bool { return true }

// Add is logical OR.
func (Boolean) Add(a, b bool) bool { return a || b }

// Mul is logical AND.
func (Boolean) Mul(a, b bool) bool { return a && b }

// Name returns "boolean".
func (Boolean) Name() string { return "boolean" }

// MinPlus is the tropical semiring (ℝ ∪ {+∞}, min, +, +∞, 0): shortest
// distances.
type MinPlus struct{}

// Zero returns +∞, the identity of min and the annihilator of +.
func (MinPlus) Zero() float64 { return math.Inf(1) }

// One returns 0, the identity of +.
func (MinPlus) One() float64 { return 0 }

// Add is min. It is written out rather than math.Min so that ties between
// -0 and +0 and NaN handling follow one fixed, documented rule: a wins
// unless b is strictly smaller.
func (MinPlus) Add(a, b float64) float64 {
	if b < a {
		return b
	}
	return a
}

// Mul is +.
func (MinPlus) Mul(a, b float64) float64 { return a + b }

// Name returns "min-plus".
func (MinPlus) Name() string { return "min-plus" }

// MaxPlus is the arctic semiring (ℝ ∪ {−∞}, max, +, −∞, 0): longest paths,
// latest arrival times.
type MaxPlus struct{}

// Zero returns −∞, the identity of max.
func (MaxPlus) Zero() float64 { return math.Inf(-1) }

// One returns 0, the identity of +.
func (MaxPlus) One() float64 { return 0 }

// Add is max (a wins unless b is strictly greater).
func (MaxPlus) Add(a, b float64) float64 {
	if b > a {
		return b
	}
	return a
}

// Mul is +.
func (MaxPlus) Mul(a, b float64) float64 { return a + b }

// Name returns "max-plus".
func (MaxPlus) Name() string { return "max-plus" }

// Real is (ℝ, +, ×, 0, 1) over float64. The laws hold exactly only where
// float arithmetic is exact (for example small integers); the built-ins
// always sum in parent order so results are still deterministic.
type Real struct{}

// Zero returns 0.
func (Real) Zero() float64 { return 0 }

// One returns 1.
func (Real) One() float64 { return 1 }

// Add is +.
func (Real) Add(a, b float64) float64 { return a + b }

// Mul is ×.
func (Real) Mul(a, b float64) float64 { return float64(a * b) } // rounded: never fused into a later Add (package doc)

// Name returns "real".
func (Real) Name() string { return "real" }

// Int is (ℤ/2⁶⁴, +, ×, 0, 1) over int64 with wrapping arithmetic, which
// keeps every law exact (it is a ring).
type Int struct{}

// Zero returns 0.
func (Int) Zero() int64 { return 0 }

// One returns 1.
func (Int) One() int64 { return 1 }

// Add is wrapping +.
func (Int) Add(a, b int64) int64 { return a + b }

// Mul is wrapping ×.
func (Int) Mul(a, b int64) int64 { return a * b }

// Name returns "int".
func (Int) Name() string { return "int" }

// Compile-time checks that each semiring implements the interface.
var (
	_ Semiring[bool]    = Boolean{}
	_ Semiring[float64] = MinPlus{}
	_ Semiring[float64] = MaxPlus{}
	_ Semiring[float64] = Real{}
	_ Semiring[int64]   = Int{}
)
