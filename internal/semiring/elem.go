package semiring

import (
	"encoding/binary"
	"math"
)

// Typed page arrays. A page declared as an array of T holds its elements
// back to back, little-endian, with no header: float64 and int64 take 8
// bytes each, bool takes 1 byte that must be 0 or 1.

// F64At returns element i of a float64 page.
func F64At(b []byte, i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) }

// PutF64 stores v as element i of a float64 page.
func PutF64(b []byte, i int, v float64) { binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v)) }

// I64At returns element i of an int64 page.
func I64At(b []byte, i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) }

// PutI64 stores v as element i of an int64 page.
func PutI64(b []byte, i int, v int64) { binary.LittleEndian.PutUint64(b[8*i:], uint64(v)) }

// BoolAt returns element i of a bool page (any non-zero byte reads true;
// the built-ins reject bytes other than 0 and 1 before reading).
func BoolAt(b []byte, i int) bool { return b[i] != 0 }

// PutBool stores v as element i of a bool page (1 or 0).
func PutBool(b []byte, i int, v bool) {
	if v {
		b[i] = 1
	} else {
		b[i] = 0
	}
}

// AppendF64 appends vs encoded as a float64 array.
func AppendF64(dst []byte, vs ...float64) []byte {
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

// AppendI64 appends vs encoded as an int64 array.
func AppendI64(dst []byte, vs ...int64) []byte {
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	return dst
}

// AppendBool appends vs encoded as a bool array.
func AppendBool(dst []byte, vs ...bool) []byte {
	for _, v := range vs {
		if v {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	}
	return dst
}

// Elem is the encoding of one element type in a page array, so that
// generic code (Combine) can read and write any typed page.
type Elem[T any] interface {
	Size() int                  // bytes per element
	Get(b []byte, i int) T      // element i
	Put(b []byte, i int, v T)   // store element i
	Valid(b []byte) (int, bool) // first invalid element's index, or ok
}

// F64 is the float64 element encoding (8 bytes, little-endian IEEE 754).
type F64 struct{}

// Size returns 8.
func (F64) Size() int { return 8 }

// Get returns element i.
func (F64) Get(b []byte, i int) float64 { return F64At(b, i) }

// Put stores element i, NaN as CanonicalNaN (see there).
func (F64) Put(b []byte, i int, v float64) { PutF64(b, i, canonF64(v)) }

// CanonicalNaN is the bit pattern every built-in writes for a NaN result.
// Which NaN payload and sign an operation yields depends on the CPU and on
// the operand order the compiler picks; canonicalising keeps page bytes,
// and so replay hashes, identical across builds and machines.
const CanonicalNaN = 0x7FF8000000000001

func canonF64(v float64) float64 {
	if v != v {
		return math.Float64frombits(CanonicalNaN)
	}
	return v
}

// Valid accepts every bit pattern: NaN and infinities are legal values.
func (F64) Valid([]byte) (int, bool) { return 0, true }

// I64 is the int64 element encoding (8 bytes, little-endian two's
// complement).
type I64 struct{}

// Size returns 8.
func (I64) Size() int { return 8 }

// Get returns element i.
func (I64) Get(b []byte, i int) int64 { return I64At(b, i) }

// Put stores element i.
func (I64) Put(b []byte, i int, v int64) { PutI64(b, i, v) }

// Valid accepts every bit pattern.
func (I64) Valid([]byte) (int, bool) { return 0, true }

// Bool is the bool element encoding (1 byte, 0 or 1).
type Bool struct{}

// Size returns 1.
func (Bool) Size() int { return 1 }

// Get returns element i.
func (Bool) Get(b []byte, i int) bool { return b[i] != 0 }

// Put stores element i.
func (Bool) Put(b []byte, i int, v bool) { PutBool(b, i, v) }

// Valid rejects bytes other than 0 and 1, so that a page written by a
// careless producer is caught rather than silently read as true.
func (Bool) Valid(b []byte) (int, bool) {
	for i, v := range b {
		if v > 1 {
			return i, false
		}
	}
	return 0, true
}
