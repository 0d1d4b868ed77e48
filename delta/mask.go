package delta

import (
	"encoding/binary"
	"math/bits"
)

// maskBytes is the number of mask bytes that hold n bits: ceil(n/8),
// computed in 64 bits so that n near 2^32 cannot wrap.
func maskBytes(n uint32) uint64 { return (uint64(n) + 7) / 8 }

// clampBits limits maskLen to the bits mask actually holds, so that the
// helpers below never index past the slice even on unvalidated input.
func clampBits(mask []byte, maskLen uint32) uint32 {
	if have := uint64(len(mask)) * 8; uint64(maskLen) > have {
		return uint32(have)
	}
	return maskLen
}

// maskWord returns the 64 mask bits starting at bit position pos (a
// multiple of 64), with bits at or beyond maskLen cleared. The mask is bit
// i%8 of byte i/8, which is exactly a little-endian load.
func maskWord(mask []byte, maskLen, pos uint32) uint64 {
	b := pos / 8
	if uint64(pos)+64 <= uint64(maskLen) {
		return binary.LittleEndian.Uint64(mask[b:])
	}
	rem := maskLen - pos // 1..63
	var w uint64
	for i := uint32(0); i < (rem+7)/8; i++ {
		w |= uint64(mask[b+i]) << (8 * i)
	}
	return w & (uint64(1)<<rem - 1)
}

// popcount counts the set bits among the first maskLen bits of mask.
func popcount(mask []byte, maskLen uint32) uint64 {
	maskLen = clampBits(mask, maskLen)
	var n uint64
	for pos := uint64(0); pos < uint64(maskLen); pos += 64 {
		n += uint64(bits.OnesCount64(maskWord(mask, maskLen, uint32(pos))))
	}
	return n
}

// bitRuns walks the runs of set bits of a mask, 64 bits at a time,
// skipping zero words. A run that crosses a word boundary is reported as
// two pieces; callers that need maximal ranges coalesce them.
type bitRuns struct {
	mask    []byte
	maskLen uint32
	pos     uint64 // bit position of the next word to load
	base    uint32 // bit position of word
	word    uint64 // unreported set bits of the current word
	clamped bool
}

// next returns the next run of set bits as (offset, length).
func (it *bitRuns) next() (off, n uint32, ok bool) {
	if !it.clamped {
		it.maskLen = clampBits(it.mask, it.maskLen)
		it.clamped = true
	}
	for it.word == 0 {
		if it.pos >= uint64(it.maskLen) {
			return 0, 0, false
		}
		it.base = uint32(it.pos)
		it.word = maskWord(it.mask, it.maskLen, it.base)
		it.pos += 64
	}
	tz := bits.TrailingZeros64(it.word)
	// Shifting the run down to bit 0 and inverting turns its length into
	// a trailing-zero count; an all-ones word gives 64, which is right.
	ones := bits.TrailingZeros64(^(it.word >> tz))
	it.word &^= (uint64(1)<<ones - 1) << tz
	return it.base + uint32(tz), uint32(ones), true
}

// setBits sets n bits of mask starting at bit off.
func setBits(mask []byte, off, n uint32) {
	for n > 0 && off%8 != 0 {
		mask[off/8] |= 1 << (off % 8)
		off++
		n--
	}
	for n >= 8 {
		mask[off/8] = 0xff
		off += 8
		n -= 8
	}
	for n > 0 {
		mask[off/8] |= 1 << (off % 8)
		off++
		n--
	}
}
