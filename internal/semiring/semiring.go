// Package semiring is MMSB's semiring algebra (zero, one, ⊕, ⊗) and the
// built-in library of pure recompute functions over pages declared as typed
// arrays (float64, int64, bool; little-endian), which propagate
// reachability, shortest distances and weighted sums through the graph.
package semiring

// Semiring is an algebraic structure (S, ⊕, ⊗, 0, 1).
type Semiring[T any] interface {
	Zero() T
	One() T
	Add(a, b T) T // ⊕
	Mul(a, b T) T // ⊗
	Name() string
}

// Func is a recompute function: it computes out (the derived page's bytes,
// pre-filled with the page's current content) from read-only inputs (the
// parent pages' bytes, in binding order) and params (the binding's
// parameters). It must be pure: deterministic, no side effects, inputs
// untouched.
type Func func(inputs [][]byte, params []byte, out []byte) error
