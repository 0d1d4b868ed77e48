package semiring

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// ErrBadInput means a recompute function was given inputs, params or an output
// it cannot interpret (wrong lengths, wrong weight count, bad op code...).
// Every built-in returns it wrapped, with details, instead of panicking.
var ErrBadInput = errors.New("semiring: bad input")

// Builtin is a named recompute function of the built-in library.
type Builtin struct {
	Name string
	Fn   Func
	Doc  string
}

// builtins is sorted by name (checked by a test) so Builtins is
// deterministic without sorting at run time.
var builtins = []Builtin{
	{"bool.or", boolOr, "bool arrays: out[j] = OR of parent[i][j] over all parents. No params."},
	{"bool.reach", boolReach, "bool arrays: out[j] = OR_i (parent[i][j] AND w[i]); params: one byte (0/1) per parent."},
	{"f64.max", f64Max, "float64 arrays: out[j] = max of parent[i][j] (−Inf with no parents). No params."},
	{"f64.maxplus", f64MaxPlus, "float64 arrays: out[j] = max_i (parent[i][j] + w[i]); params: one float64 per parent."},
	{"f64.min", f64Min, "float64 arrays: out[j] = min of parent[i][j] (+Inf with no parents). No params."},
	{"f64.minplus", f64MinPlus, "float64 arrays: out[j] = min_i (parent[i][j] + w[i]) (shortest distances); params: one float64 per parent."},
	{"f64.sum", f64Sum, "float64 arrays: out[j] = sum of parent[i][j], in parent order. No params."},
	{"f64.weighted", f64Weighted, "float64 arrays: out[j] = sum_i parent[i][j] * w[i], in parent order; params: one float64 per parent."},
	{"i64.sum", i64Sum, "int64 arrays: out[j] = wrapping sum of parent[i][j]. No params."},
	{"passthrough", passthrough, "exactly one parent: copy it (shorter side wins, rest zeroed); optional params select a float64 transform (see PassthroughParams)."},
}

// Builtins returns the built-in recompute functions sorted by name. The
// slice is a fresh copy; callers may keep or modify it.
func Builtins() []Builtin {
	return append([]Builtin(nil), builtins...)
}

// Lookup returns the built-in named name.
func Lookup(name string) (Func, bool) {
	i := sort.Search(len(builtins), func(i int) bool { return builtins[i].Name >= name })
	if i < len(builtins) && builtins[i].Name == name {
		return builtins[i].Fn, true
	}
	return nil, false
}

// Combine computes, for every element j of out,
//
//	out[j] = ⊕_i (inputs[i][j] ⊗ w[i])
//
// folding parents in input order starting from s.Zero(), where w[i] is
// element i of weights (encoded like the pages) or s.One() when weights is
// nil. An input shorter than out contributes nothing (its missing elements
// count as s.Zero()), so the result does not depend on bytes that are not
// there. out may alias an input element for element: element j of every
// input is read before out[j] is written. It allocates only on error.
func Combine[T any](s Semiring[T], e Elem[T], out []byte, inputs [][]byte, weights []byte) error {
	size := e.Size()
	if len(out)%size != 0 {
		return fmt.Errorf("semiring: %s: output length %d is not a multiple of %d: %w", s.Name(), len(out), size, ErrBadInput)
	}
	for i, in := range inputs {
		if len(in)%size != 0 {
			return fmt.Errorf("semiring: %s: input %d length %d is not a multiple of %d: %w", s.Name(), i, len(in), size, ErrBadInput)
		}
		if k, ok := e.Valid(in); !ok {
			return fmt.Errorf("semiring: %s: input %d element %d is not a valid value: %w", s.Name(), i, k, ErrBadInput)
		}
	}
	if weights != nil {
		if len(weights) != len(inputs)*size {
			return fmt.Errorf("semiring: %s: %d bytes of weights for %d inputs, want %d: %w", s.Name(), len(weights), len(inputs), len(inputs)*size, ErrBadInput)
		}
		if k, ok := e.Valid(weights); !ok {
			return fmt.Errorf("semiring: %s: weight %d is not a valid value: %w", s.Name(), k, ErrBadInput)
		}
	}
	n := len(out) / size
	// The float64 semirings take a direct loop: the generic one pays an
	// indirect call per ⊕, ⊗ and element access (about 3× slower).
	if _, ok := any(e).(F64); ok {
		switch any(s).(type) {
		case Real:
			combineF64(opSum, out, inputs, weights)
			return nil
		case MinPlus:
			combineF64(opMin, out, inputs, weights)
			return nil
		case MaxPlus:
			combineF64(opMax, out, inputs, weights)
			return nil
		}
	}
	zero, one := s.Zero(), s.One()
	for j := 0; j < n; j++ {
		acc := zero
		for i, in := range inputs {
			if j >= len(in)/size {
				continue
			}
			v := e.Get(in, j)
			if weights != nil {
				v = s.Mul(v, e.Get(weights, i))
			} else {
				v = s.Mul(v, one)
			}
			acc = s.Add(acc, v)
		}
		e.Put(out, j, acc)
	}
	return nil
}

type f64Op uint8

const (
	opSum f64Op = iota // Real: + and ×
	opMin              // MinPlus: min and +
	opMax              // MaxPlus: max and +
)

// combineF64 is Combine specialised to float64 pages and the three float
// semirings; it must compute exactly what the generic loop computes
// (TestCombineFastPathMatchesGeneric checks it).
func combineF64(op f64Op, out []byte, inputs [][]byte, weights []byte) {
	n := len(out) / 8
	for j := 0; j < n; j++ {
		var acc float64
		switch op {
		case opMin:
			acc = math.Inf(1)
		case opMax:
			acc = math.Inf(-1)
		}
		for i, in := range inputs {
			if 8*j >= len(in) {
				continue
			}
			v := F64At(in, j)
			switch op {
			case opSum:
				if weights != nil {
					// float64(): rounded before the sum, never fused
					// into it (package doc).
					v = float64(v * F64At(weights, i))
				}
				acc += v // v*1 == v exactly, so no ⊗ One needed
			case opMin:
				if weights != nil {
					v += F64At(weights, i)
				} else {
					v += 0 // ⊗ One: turns -0 into +0 as the generic loop does
				}
				if v < acc {
					acc = v
				}
			case opMax:
				if weights != nil {
					v += F64At(weights, i)
				} else {
					v += 0 // ⊗ One, as above
				}
				if v > acc {
					acc = v
				}
			}
		}
		PutF64(out, j, canonF64(acc))
	}
}

// noParams guards the unweighted functions: a binding that passes
// parameters to them is almost certainly bound to the wrong function.
func noParams(name string, params []byte) error {
	if len(params) != 0 {
		return fmt.Errorf("semiring: %s takes no params, got %d bytes: %w", name, len(params), ErrBadInput)
	}
	return nil
}

var emptyWeights = []byte{}

func boolOr(inputs [][]byte, params, out []byte) error {
	if err := noParams("bool.or", params); err != nil {
		return err
	}
	return Combine[bool](Boolean{}, Bool{}, out, inputs, nil)
}

func boolReach(inputs [][]byte, params, out []byte) error {
	return Combine[bool](Boolean{}, Bool{}, out, inputs, weightsOrEmpty(params))
}

func f64Min(inputs [][]byte, params, out []byte) error {
	if err := noParams("f64.min", params); err != nil {
		return err
	}
	return Combine[float64](MinPlus{}, F64{}, out, inputs, nil)
}

func f64Max(inputs [][]byte, params, out []byte) error {
	if err := noParams("f64.max", params); err != nil {
		return err
	}
	return Combine[float64](MaxPlus{}, F64{}, out, inputs, nil)
}

func f64Sum(inputs [][]byte, params, out []byte) error {
	if err := noParams("f64.sum", params); err != nil {
		return err
	}
	return Combine[float64](Real{}, F64{}, out, inputs, nil)
}

func i64Sum(inputs [][]byte, params, out []byte) error {
	if err := noParams("i64.sum", params); err != nil {
		return err
	}
	return Combine[int64](Int{}, I64{}, out, inputs, nil)
}

func f64MinPlus(inputs [][]byte, params, out []byte) error {
	return Combine[float64](MinPlus{}, F64{}, out, inputs, weightsOrEmpty(params))
}

func f64MaxPlus(inputs [][]byte, params, out []byte) error {
	return Combine[float64](MaxPlus{}, F64{}, out, inputs, weightsOrEmpty(params))
}

func f64Weighted(inputs [][]byte, params, out []byte) error {
	return Combine[float64](Real{}, F64{}, out, inputs, weightsOrEmpty(params))
}

// weightsOrEmpty makes nil params mean "no weights" (valid only with no
// parents) rather than "all ones": weighted functions always need
// explicit weights.
func weightsOrEmpty(params []byte) []byte {
	if params == nil {
		return emptyWeights
	}
	return params
}

// Transform selects what passthrough does to each float64 element.
type Transform uint8

// Passthrough transforms. Params are the op code byte followed by the
// listed float64 arguments, little-endian.
const (
	TransformCopy   Transform = 0 // no args: float64 copy (same as empty params, but checks lengths)
	TransformScale  Transform = 1 // a: v*a
	TransformOffset Transform = 2 // b: v+b
	TransformAffine Transform = 3 // a, b: v*a + b
	TransformReLU   Transform = 4 // no args: max(v, 0); NaN stays NaN
	TransformClamp  Transform = 5 // lo, hi: min(max(v, lo), hi); needs lo <= hi
)

// transformArgs is the argument count of each transform.
var transformArgs = [...]int{TransformCopy: 0, TransformScale: 1, TransformOffset: 1, TransformAffine: 2, TransformReLU: 0, TransformClamp: 2}

// PassthroughParams encodes a passthrough transform: the op code then each
// argument as a little-endian float64. It does not check the argument
// count; passthrough does, at run time.
func PassthroughParams(op Transform, args ...float64) []byte {
	return AppendF64([]byte{byte(op)}, args...)
}

func passthrough(inputs [][]byte, params, out []byte) error {
	if len(inputs) != 1 {
		return fmt.Errorf("semiring: passthrough needs exactly 1 input, got %d: %w", len(inputs), ErrBadInput)
	}
	in := inputs[0]
	if len(params) == 0 {
		// Raw bytes: any page type.
		n := copy(out, in)
		clear(out[n:])
		return nil
	}
	op := Transform(params[0])
	if int(op) >= len(transformArgs) {
		return fmt.Errorf("semiring: passthrough: unknown transform %d: %w", op, ErrBadInput)
	}
	if want := 1 + 8*transformArgs[op]; len(params) != want {
		return fmt.Errorf("semiring: passthrough: transform %d takes %d params bytes, got %d: %w", op, want, len(params), ErrBadInput)
	}
	if len(in)%8 != 0 || len(out)%8 != 0 {
		return fmt.Errorf("semiring: passthrough: transform needs float64 pages, lengths %d -> %d: %w", len(in), len(out), ErrBadInput)
	}
	var a, b float64
	if transformArgs[op] > 0 {
		a = F64At(params[1:], 0)
	}
	if transformArgs[op] > 1 {
		b = F64At(params[1:], 1)
	}
	if op == TransformClamp && !(a <= b) {
		return fmt.Errorf("semiring: passthrough: clamp bounds [%v, %v] are not ordered: %w", a, b, ErrBadInput)
	}
	n := min(len(in), len(out)) / 8
	for j := 0; j < n; j++ {
		v := F64At(in, j)
		switch op {
		case TransformScale:
			v *= a
		case TransformOffset:
			v += a
		case TransformAffine:
			v = float64(v*a) + b // never fused (package doc)
		case TransformReLU:
			if v < 0 {
				v = 0
			}
		case TransformClamp:
			v = math.Min(math.Max(v, a), b)
		}
		if op != TransformCopy {
			v = canonF64(v) // TransformCopy stays a bit-exact copy
		}
		PutF64(out, j, v)
	}
	clear(out[8*n:])
	return nil
}
